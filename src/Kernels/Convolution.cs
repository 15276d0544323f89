// 2-D convolution by im2col + GEMM. Legend: input (N, C, H, W), weight (Cout, C, K, K), bias (Cout),
// output (N, Cout, OH, OW); P = OH * OW; CKK = C * K * K.
// columns (CKK, N * P): columns[(c, kh, kw), (n, oh, ow)] = input[n, c, oh * s - pad + kh, ow * s - pad + kw] (0 outside).
// scratch (Cout, N * P): the GEMM's output, channel-major; copied to NCHW with the bias added.
// Backward: dWeight += dOut' columns^T, dBias += sums of dOut, dColumns = weight^T dOut', dInput = col2im(dColumns).
// Parameter gradients accumulate with +=; dInput is overwritten. col2im gathers (no atomics), so it is deterministic.
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

/// <summary>Convolution forward and backward on im2col, GEMM and col2im.</summary>
public sealed class Convolution
{
    private readonly Gemm gemm;
    private readonly Elementwise elementwise;
    private readonly LayoutCopies copies;

    internal Convolution(Accelerator accelerator, LaunchPolicy policy, Gemm gemm, Elementwise elementwise)
    {
        this.gemm = gemm;
        this.elementwise = elementwise;
        copies = policy.IsCpu ? new PlaneCopies(accelerator, policy) : new ElementCopies(accelerator, policy);
    }

    /// <summary>The output shape (N, Cout, OH, OW) for an (N, C, H, W) input and a (Cout, C, K, K) weight.</summary>
    public static Shape OutputShape(Shape input, Shape weight, Window window)
    {
        ValidateShapes(input, weight, window);
        return new Shape(input[0], weight[0], window.OutputSize(input[2]), window.OutputSize(input[3]));
    }

    /// <summary>Elements of the columns workspace: C * K * K * N * OH * OW.</summary>
    public static int ColumnsLength(Shape input, Shape weight, Window window)
    {
        var output = OutputShape(input, weight, window);
        return checked(weight[1] * weight[2] * weight[3] * input[0] * output[2] * output[3]);
    }

    /// <summary>Elements of the scratch workspace: the output's, Cout * N * OH * OW.</summary>
    public static int ScratchLength(Shape input, Shape weight, Window window) => OutputShape(input, weight, window).Length;

    /// <summary>
    /// output = conv(input, weight) + bias. Leaves the im2col of <paramref name="input"/> in <paramref name="columns"/>,
    /// which <see cref="Backward"/> reads.
    /// </summary>
    public void Forward(
        TensorView<float> output,
        TensorView<float> input,
        TensorView<float> weight,
        TensorView<float> bias,
        Window window,
        TensorView<float> columns,
        TensorView<float> scratch)
    {
        Check.Rank(input, 4, nameof(input));
        Check.Rank(weight, 4, nameof(weight));
        Check.Shape(output, OutputShape(input.Shape, weight.Shape, window), nameof(output));
        Check.Shape(bias, new Shape(weight.Shape[0]), nameof(bias));
        var geometry = WindowShape.Of(input.Shape, window);
        int outChannels = weight.Shape[0], ckk = weight.Shape.SampleLength, np = geometry.Batch * geometry.Plane;
        Check.AtLeast(columns, ckk * np, nameof(columns));
        Check.AtLeast(scratch, outChannels * np, nameof(scratch));
        if (output.Length == 0)
        {
            return;
        }

        var cols = new TensorView<float>(columns.Data, new Shape(ckk, np));
        var product = new TensorView<float>(scratch.Data, new Shape(outChannels, np));
        copies.Im2Col(cols, input, geometry);
        gemm.Multiply(product, weight.Reshape(new Shape(outChannels, ckk)), Transpose.None, cols, Transpose.None);
        copies.ToBatchMajor(output, product, bias, geometry);
    }

    /// <summary>
    /// From dOutput and the forward's <paramref name="columns"/>: dWeight += dL/dWeight, dBias += dL/dBias and, when
    /// <paramref name="dInput"/> is given, dInput = dL/dInput. Overwrites <paramref name="columns"/> and
    /// <paramref name="scratch"/>.
    /// </summary>
    public void Backward(
        TensorView<float>? dInput,
        TensorView<float> dWeight,
        TensorView<float> dBias,
        TensorView<float> dOutput,
        TensorView<float> weight,
        Shape inputShape,
        Window window,
        TensorView<float> columns,
        TensorView<float> scratch)
    {
        Check.Rank(weight, 4, nameof(weight));
        Check.SameShape(dWeight, nameof(dWeight), weight, nameof(weight));
        Check.Shape(dBias, new Shape(weight.Shape[0]), nameof(dBias));
        Check.Shape(dOutput, OutputShape(inputShape, weight.Shape, window), nameof(dOutput));
        if (dInput is { } dIn)
        {
            Check.Shape(dIn, inputShape, nameof(dInput));
        }

        var geometry = WindowShape.Of(inputShape, window);
        int outChannels = weight.Shape[0], ckk = weight.Shape.SampleLength, np = geometry.Batch * geometry.Plane;
        Check.AtLeast(columns, ckk * np, nameof(columns));
        Check.AtLeast(scratch, outChannels * np, nameof(scratch));
        var cols = new TensorView<float>(columns.Data, new Shape(ckk, np));
        var dProduct = new TensorView<float>(scratch.Data, new Shape(outChannels, np));
        var weight2d = weight.Reshape(new Shape(outChannels, ckk));

        copies.ToChannelMajor(dProduct, dOutput, geometry);
        gemm.Multiply(dWeight.Reshape(weight2d.Shape), dProduct, Transpose.None, cols, Transpose.Yes, 1f, 1f);
        elementwise.BiasGradient(dBias, dOutput);
        if (dInput is { } dx)
        {
            gemm.Multiply(cols, weight2d, Transpose.Yes, dProduct, Transpose.None);
            copies.Col2Im(dx, cols, geometry);
        }
    }

    /// <summary>
    /// The copies around the GEMM, loaded for one accelerator kind: GPUs take one element per thread (consecutive
    /// threads touch consecutive addresses); the CPU accelerator takes one plane per item, walked with counters
    /// instead of several integer divisions per element.
    /// </summary>
    private abstract class LayoutCopies
    {
        /// <summary>columns (CKK, N * P) = im2col(input).</summary>
        public abstract void Im2Col(TensorView<float> columns, TensorView<float> input, WindowShape g);

        /// <summary>output (N, Cout, P) = product (Cout, N * P) + bias.</summary>
        public abstract void ToBatchMajor(TensorView<float> output, TensorView<float> product, TensorView<float> bias, WindowShape g);

        /// <summary>product (Cout, N * P) = dOutput (N, Cout, P).</summary>
        public abstract void ToChannelMajor(TensorView<float> product, TensorView<float> dOutput, WindowShape g);

        /// <summary>dInput (N, C, H, W) = col2im(dColumns).</summary>
        public abstract void Col2Im(TensorView<float> dInput, TensorView<float> dColumns, WindowShape g);
    }

    private sealed class ElementCopies(Accelerator accelerator, LaunchPolicy policy) : LayoutCopies
    {
        private readonly ItemKernel<Im2ColOp> im2col = new(accelerator, policy);
        private readonly ItemKernel<ToBatchMajorOp> toBatchMajor = new(accelerator, policy);
        private readonly ItemKernel<ToChannelMajorOp> toChannelMajor = new(accelerator, policy);
        private readonly ItemKernel<Col2ImOp> col2im = new(accelerator, policy);

        public override void Im2Col(TensorView<float> columns, TensorView<float> input, WindowShape g) =>
            im2col.Launch(new Im2ColOp(columns.Data, input.Data, g), columns.Length);

        public override void ToBatchMajor(TensorView<float> output, TensorView<float> product, TensorView<float> bias, WindowShape g) =>
            toBatchMajor.Launch(new ToBatchMajorOp(output.Data, product.Data, bias.Data, bias.Length, g.Plane), output.Length);

        public override void ToChannelMajor(TensorView<float> product, TensorView<float> dOutput, WindowShape g) =>
            toChannelMajor.Launch(new ToChannelMajorOp(product.Data, dOutput.Data, product.Shape[0], g.Batch, g.Plane), product.Length);

        public override void Col2Im(TensorView<float> dInput, TensorView<float> dColumns, WindowShape g) =>
            col2im.Launch(new Col2ImOp(dInput.Data, dColumns.Data, g), dInput.Length);
    }

    private sealed class PlaneCopies(Accelerator accelerator, LaunchPolicy policy) : LayoutCopies
    {
        private readonly ItemKernel<Im2ColPlaneOp> im2col = new(accelerator, policy);
        private readonly ItemKernel<ToBatchMajorPlaneOp> toBatchMajor = new(accelerator, policy);
        private readonly ItemKernel<ToChannelMajorPlaneOp> toChannelMajor = new(accelerator, policy);
        private readonly ItemKernel<Col2ImPlaneOp> col2im = new(accelerator, policy);

        public override void Im2Col(TensorView<float> columns, TensorView<float> input, WindowShape g) =>
            im2col.Launch(new Im2ColPlaneOp(columns.Data, input.Data, g), columns.Shape[0] * g.Batch, g.Plane);

        public override void ToBatchMajor(TensorView<float> output, TensorView<float> product, TensorView<float> bias, WindowShape g) =>
            toBatchMajor.Launch(new ToBatchMajorPlaneOp(output.Data, product.Data, bias.Data, bias.Length, g.Batch, g.Plane), g.Batch * bias.Length, g.Plane);

        public override void ToChannelMajor(TensorView<float> product, TensorView<float> dOutput, WindowShape g) =>
            toChannelMajor.Launch(new ToChannelMajorPlaneOp(product.Data, dOutput.Data, product.Shape[0], g.Batch, g.Plane), product.Shape[0] * g.Batch, g.Plane);

        public override void Col2Im(TensorView<float> dInput, TensorView<float> dColumns, WindowShape g) =>
            col2im.Launch(new Col2ImPlaneOp(dInput.Data, dColumns.Data, g), g.Batch * g.Channels, g.Height * g.Width);
    }

    private static void ValidateShapes(Shape input, Shape weight, Window window)
    {
        if (input.Rank != 4 || weight.Rank != 4)
        {
            throw new ArgumentException($"Convolution needs an (N, C, H, W) input and a (Cout, C, K, K) weight, got input {input} and weight {weight}.");
        }

        if (weight[1] != input[1] || weight[2] != window.Kernel || weight[3] != window.Kernel)
        {
            throw new ArgumentException(
                $"Convolution weight {weight} does not fit input {input} with a {window.Kernel}x{window.Kernel} kernel: " +
                $"it must be (Cout, {input[1]}, {window.Kernel}, {window.Kernel}).");
        }

        window.Validate(input[2], input[3], "Convolution");
    }

    /// <summary>columns[r, q] for r = (c, kh, kw), q = (n, oh, ow); zero where the window reads padding.</summary>
    internal readonly record struct Im2ColOp(ArrayView<float> Columns, ArrayView<float> Input, WindowShape G) : IItemOp
    {
        public void Apply(int index)
        {
            int np = G.Batch * G.Plane;
            int row = index / np, column = index - (row * np);
            int kk = G.Kernel * G.Kernel;
            int c = row / kk, kh = (row / G.Kernel) % G.Kernel, kw = row % G.Kernel;
            int n = column / G.Plane, p = column % G.Plane;
            int h = ((p / G.OutWidth) * G.Stride) - G.Padding + kh;
            int w = ((p % G.OutWidth) * G.Stride) - G.Padding + kw;
            Columns[index] = h >= 0 && h < G.Height && w >= 0 && w < G.Width
                ? Input[(((((n * G.Channels) + c) * G.Height) + h) * G.Width) + w]
                : 0f;
        }
    }

    /// <summary>
    /// The same as <see cref="Col2ImOp"/> for the CPU accelerator: one item is the input plane (n, c), and the output
    /// rows covering an input row are found once per row.
    /// </summary>
    internal readonly record struct Col2ImPlaneOp(ArrayView<float> DInput, ArrayView<float> DColumns, WindowShape G) : IItemOp
    {
        public void Apply(int index)
        {
            int c = index % G.Channels, n = index / G.Channels;
            int np = G.Batch * G.Plane, imageColumns = n * G.Plane, kk = G.Kernel * G.Kernel;
            int to = index * G.Height * G.Width;
            for (int h = 0; h < G.Height; h++)
            {
                int ohStart = G.FirstCovering(h), ohEnd = G.EndCovering(h, G.OutHeight);
                for (int w = 0; w < G.Width; w++)
                {
                    int owStart = G.FirstCovering(w), owEnd = G.EndCovering(w, G.OutWidth);
                    float sum = 0f;
                    for (int oh = ohStart; oh < ohEnd; oh++)
                    {
                        int kh = h + G.Padding - (oh * G.Stride);
                        int rowBase = (c * kk) + (kh * G.Kernel);
                        for (int ow = owStart; ow < owEnd; ow++)
                        {
                            int kw = w + G.Padding - (ow * G.Stride);
                            sum += DColumns[((rowBase + kw) * np) + imageColumns + (oh * G.OutWidth) + ow];
                        }
                    }

                    DInput[to + (h * G.Width) + w] = sum;
                }
            }
        }
    }

    /// <summary>
    /// The same as <see cref="Im2ColOp"/> for the CPU accelerator: one item is the P columns of one (row, image), so
    /// the index arithmetic is done once per plane instead of once per element.
    /// </summary>
    internal readonly record struct Im2ColPlaneOp(ArrayView<float> Columns, ArrayView<float> Input, WindowShape G) : IItemOp
    {
        public void Apply(int index)
        {
            int row = index / G.Batch, n = index - (row * G.Batch);
            int kk = G.Kernel * G.Kernel;
            int c = row / kk, kh = (row / G.Kernel) % G.Kernel, kw = row % G.Kernel;
            int output = (row * G.Batch * G.Plane) + (n * G.Plane);
            int inputPlane = ((n * G.Channels) + c) * G.Height * G.Width;
            for (int oh = 0; oh < G.OutHeight; oh++)
            {
                int h = (oh * G.Stride) - G.Padding + kh;
                bool rowInside = h >= 0 && h < G.Height;
                int inputRow = inputPlane + (h * G.Width);
                for (int ow = 0, w = kw - G.Padding; ow < G.OutWidth; ow++, w += G.Stride)
                {
                    Columns[output++] = rowInside && w >= 0 && w < G.Width ? Input[inputRow + w] : 0f;
                }
            }
        }
    }

    /// <summary>dInput[n, c, h, w] = the sum of dColumns over the (kh, kw) whose window position reads (h, w).</summary>
    internal readonly record struct Col2ImOp(ArrayView<float> DInput, ArrayView<float> DColumns, WindowShape G) : IItemOp
    {
        public void Apply(int index)
        {
            int w = index % G.Width, h = (index / G.Width) % G.Height;
            int c = (index / (G.Width * G.Height)) % G.Channels, n = index / (G.Width * G.Height * G.Channels);
            int np = G.Batch * G.Plane;
            float sum = 0f;
            for (int oh = G.FirstCovering(h), ohEnd = G.EndCovering(h, G.OutHeight); oh < ohEnd; oh++)
            {
                int kh = h + G.Padding - (oh * G.Stride);
                for (int ow = G.FirstCovering(w), owEnd = G.EndCovering(w, G.OutWidth); ow < owEnd; ow++)
                {
                    int kw = w + G.Padding - (ow * G.Stride);
                    int row = (((c * G.Kernel) + kh) * G.Kernel) + kw;
                    sum += DColumns[(row * np) + (n * G.Plane) + (oh * G.OutWidth) + ow];
                }
            }

            DInput[index] = sum;
        }
    }

    /// <summary>output[n, c, p] = product[c, n * P + p] + bias[c].</summary>
    internal readonly record struct ToBatchMajorOp(
        ArrayView<float> Output, ArrayView<float> Product, ArrayView<float> Bias, int Channels, int Plane) : IItemOp
    {
        public void Apply(int index)
        {
            int p = index % Plane, c = (index / Plane) % Channels, n = index / (Plane * Channels);
            int batch = (int)(Output.Length / (Plane * Channels));
            Output[index] = Product[(((c * batch) + n) * Plane) + p] + Bias[c];
        }
    }

    /// <summary>The same as <see cref="ToBatchMajorOp"/> for the CPU accelerator: one item is the plane (n, c).</summary>
    internal readonly record struct ToBatchMajorPlaneOp(
        ArrayView<float> Output, ArrayView<float> Product, ArrayView<float> Bias, int Channels, int Batch, int Plane) : IItemOp
    {
        public void Apply(int index)
        {
            int c = index % Channels, n = index / Channels;
            int to = index * Plane, from = ((c * Batch) + n) * Plane;
            float bias = Bias[c];
            for (int p = 0; p < Plane; p++)
            {
                Output[to + p] = Product[from + p] + bias;
            }
        }
    }

    /// <summary>product[c, n * P + p] = dOutput[n, c, p].</summary>
    internal readonly record struct ToChannelMajorOp(
        ArrayView<float> Product, ArrayView<float> DOutput, int Channels, int Batch, int Plane) : IItemOp
    {
        public void Apply(int index)
        {
            int p = index % Plane, n = (index / Plane) % Batch, c = index / (Plane * Batch);
            Product[index] = DOutput[(((n * Channels) + c) * Plane) + p];
        }
    }

    /// <summary>The same as <see cref="ToChannelMajorOp"/> for the CPU accelerator: one item is the plane (c, n).</summary>
    internal readonly record struct ToChannelMajorPlaneOp(
        ArrayView<float> Product, ArrayView<float> DOutput, int Channels, int Batch, int Plane) : IItemOp
    {
        public void Apply(int index)
        {
            int n = index % Batch, c = index / Batch;
            int to = index * Plane, from = ((n * Channels) + c) * Plane;
            for (int p = 0; p < Plane; p++)
            {
                Product[to + p] = DOutput[from + p];
            }
        }
    }
}
