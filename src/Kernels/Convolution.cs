// 2-D convolution as GEMMs. Legend: input (N, C, H, W), weight (Cout, C, K, K), bias (Cout), output (N, Cout, OH, OW);
// P = OH * OW; CKK = C * K * K; im2col[(c, kh, kw), (n, oh, ow)] = input[n, c, oh * s - pad + kh, ow * s - pad + kw]
// (0 outside).
// Forward: output (Cout, N * P) = weight (Cout, CKK) im2col (CKK, N * P) + bias, written as NCHW (plus an addend of the
// output's shape when one is given: a residual block's sum, in the same pass).
// Backward: dWeight += dOut (Cout, N * P) im2col^T, dBias += sums of dOut, dInput = col2im(weight^T dOut).
// GPUs run these as implicit GEMMs: the tile loaders read the image (im2col addressing) and dOut directly, the
// epilogues write NCHW with the bias, and dInput is a GEMM whose right operand gathers dOut at
// oh = (h + pad - kh) / s, ow = (w + pad - kw) / s (0 unless divisible and inside): no column buffer, no layout copy.
// The CPU accelerator keeps explicit buffers: columns (CKK, N * P) by im2col, scratch (Cout, N * P) for the GEMM's
// channel-major output, copied to NCHW with the bias; col2im gathers.
// Parameter gradients accumulate with +=; dInput is overwritten. Nothing uses atomics, so it is deterministic.
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

/// <summary>Convolution forward and backward: implicit GEMMs on GPUs, im2col + GEMM + col2im on the CPU accelerator.</summary>
public sealed class Convolution
{
    private readonly Gemm gemm;
    private readonly Elementwise elementwise;
    private readonly PlaneCopies? copies;
    private readonly ImplicitGemms? implicitGemms;

    internal Convolution(Accelerator accelerator, LaunchPolicy policy, Gemm gemm, Elementwise elementwise, GemmWorkspace workspace)
    {
        this.gemm = gemm;
        this.elementwise = elementwise;
        if (policy.IsCpu)
        {
            copies = new PlaneCopies(accelerator, policy);
        }
        else
        {
            implicitGemms = new ImplicitGemms(accelerator, policy, workspace);
        }
    }

    /// <summary>Elements of the columns workspace this accelerator needs: C * K * K * N * OH * OW on the CPU accelerator, none on GPUs.</summary>
    public int ColumnsWorkspace(Shape input, Shape weight, Window window) => implicitGemms is null ? ColumnsLength(input, weight, window) : 0;

    /// <summary>Elements of the scratch workspace this accelerator needs: the output's on the CPU accelerator, none on GPUs.</summary>
    public int ScratchWorkspace(Shape input, Shape weight, Window window) => implicitGemms is null ? ScratchLength(input, weight, window) : 0;

    /// <summary>
    /// Makes room for the split-K partials of the convolution's GEMMs (forward, weight and input gradients) in
    /// <paramref name="precision"/> and compiles their kernels, so launching them allocates and compiles nothing.
    /// </summary>
    public void Reserve(Shape input, Shape weight, Window window, GemmPrecision precision = GemmPrecision.Fp32)
    {
        if (implicitGemms is not null)
        {
            implicitGemms.Reserve(ConvGeometry.Of(input, weight, window), precision);
        }
        else
        {
            var output = OutputShape(input, weight, window);
            int ckk = weight.SampleLength, np = input[0] * output[2] * output[3];
            gemm.Reserve(weight[0], np, ckk, precision);
        }
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
    /// output = conv(input, weight) + bias (+ <paramref name="addend"/>, of the output's shape, added in the same output
    /// pass: a residual block's sum), its GEMM in <paramref name="precision"/>. Leaves the im2col of
    /// <paramref name="input"/> in <paramref name="columns"/> (CPU accelerator), which <see cref="Backward"/> reads.
    /// </summary>
    public void Forward(
        TensorView<float> output,
        TensorView<float> input,
        TensorView<float> weight,
        TensorView<float>? bias,
        Window window,
        TensorView<float> columns,
        TensorView<float> scratch,
        GemmPrecision precision = GemmPrecision.Fp32,
        TensorView<float>? addend = null)
    {
        Check.Rank(input, 4, nameof(input));
        Check.Rank(weight, 4, nameof(weight));
        Check.Shape(output, OutputShape(input.Shape, weight.Shape, window), nameof(output));
        if (bias is { } b)
        {
            Check.Shape(b, new Shape(weight.Shape[0]), nameof(bias));
        }

        if (addend is { } a)
        {
            Check.SameShape(a, nameof(addend), output, nameof(output));
        }

        var biasData = bias is { } given ? given.Data : default;
        var addendData = addend is { } added ? added.Data : default;
        if (output.Length == 0)
        {
            return;
        }

        if (implicitGemms is not null)
        {
            implicitGemms.Forward(output, input, weight, biasData, addendData, ConvGeometry.Of(input.Shape, weight.Shape, window), precision);
            return;
        }

        var geometry = WindowShape.Of(input.Shape, window);
        int outChannels = weight.Shape[0], ckk = weight.Shape.SampleLength, np = geometry.Batch * geometry.Plane;
        Check.AtLeast(columns, ckk * np, nameof(columns));
        Check.AtLeast(scratch, outChannels * np, nameof(scratch));
        var cols = new TensorView<float>(columns.Data, new Shape(ckk, np));
        var product = new TensorView<float>(scratch.Data, new Shape(outChannels, np));
        copies!.Im2Col(cols, input, geometry);
        gemm.Multiply(product, weight.Reshape(new Shape(outChannels, ckk)), Transpose.None, cols, Transpose.None, precision: precision);
        copies.ToBatchMajor(output, product, biasData, addendData, geometry);
    }

    /// <summary>
    /// From dOutput and the forward's <paramref name="input"/> (GPUs read it; the CPU accelerator reads the forward's
    /// <paramref name="columns"/> instead): dWeight += dL/dWeight, dBias += dL/dBias and, when <paramref name="dInput"/>
    /// is given, dInput = dL/dInput, both GEMMs in <paramref name="precision"/>. Overwrites <paramref name="columns"/> and
    /// <paramref name="scratch"/>.
    /// </summary>
    public void Backward(
        TensorView<float>? dInput,
        TensorView<float> dWeight,
        TensorView<float>? dBias,
        TensorView<float> dOutput,
        TensorView<float> input,
        TensorView<float> weight,
        Window window,
        TensorView<float> columns,
        TensorView<float> scratch,
        GemmPrecision precision = GemmPrecision.Fp32)
    {
        Check.Rank(input, 4, nameof(input));
        var inputShape = input.Shape;

        Check.Rank(weight, 4, nameof(weight));
        Check.SameShape(dWeight, nameof(dWeight), weight, nameof(weight));
        if (dBias is { } db)
        {
            Check.Shape(db, new Shape(weight.Shape[0]), nameof(dBias));
        }

        Check.Shape(dOutput, OutputShape(inputShape, weight.Shape, window), nameof(dOutput));
        if (dInput is { } dIn)
        {
            Check.Shape(dIn, inputShape, nameof(dInput));
        }

        if (implicitGemms is not null)
        {
            var g = ConvGeometry.Of(inputShape, weight.Shape, window);
            implicitGemms.WeightGradient(dWeight, dOutput, input, g, precision);
            if (dBias is { } dbGpu)
            {
                elementwise.BiasGradient(dbGpu, dOutput);
            }

            if (dInput is { } dxGpu)
            {
                implicitGemms.InputGradient(dxGpu, dOutput, weight, g, precision);
            }

            return;
        }

        var geometry = WindowShape.Of(inputShape, window);
        int outChannels = weight.Shape[0], ckk = weight.Shape.SampleLength, np = geometry.Batch * geometry.Plane;
        Check.AtLeast(columns, ckk * np, nameof(columns));
        Check.AtLeast(scratch, outChannels * np, nameof(scratch));
        var cols = new TensorView<float>(columns.Data, new Shape(ckk, np));
        var dProduct = new TensorView<float>(scratch.Data, new Shape(outChannels, np));
        var weight2d = weight.Reshape(new Shape(outChannels, ckk));

        copies!.ToChannelMajor(dProduct, dOutput, geometry);
        gemm.Multiply(dWeight.Reshape(weight2d.Shape), dProduct, Transpose.None, cols, Transpose.Yes, 1f, 1f, precision: precision);
        if (dBias is { } dbCpu)
        {
            elementwise.BiasGradient(dbCpu, dOutput);
        }

        if (dInput is { } dx)
        {
            gemm.Multiply(cols, weight2d, Transpose.Yes, dProduct, Transpose.None, precision: precision);
            copies.Col2Im(dx, cols, geometry);
        }
    }

    /// <summary>
    /// The copies around the CPU accelerator's GEMM: one plane per item, walked with counters instead of several integer
    /// divisions per element.
    /// </summary>
    private sealed class PlaneCopies(Accelerator accelerator, LaunchPolicy policy)
    {
        private readonly ItemKernel<Im2ColPlaneOp> im2col = new(accelerator, policy);
        private readonly ItemKernel<ToBatchMajorPlaneOp> toBatchMajor = new(accelerator, policy);
        private readonly ItemKernel<ToChannelMajorPlaneOp> toChannelMajor = new(accelerator, policy);
        private readonly ItemKernel<Col2ImPlaneOp> col2im = new(accelerator, policy);

        /// <summary>columns (CKK, N * P) = im2col(input).</summary>
        public void Im2Col(TensorView<float> columns, TensorView<float> input, WindowShape g) =>
            im2col.Launch(new Im2ColPlaneOp(columns.Data, input.Data, g), columns.Shape[0] * g.Batch, g.Plane);

        /// <summary>output (N, Cout, P) = product (Cout, N * P) + bias (+ addend, of output's shape, when not empty).</summary>
        public void ToBatchMajor(TensorView<float> output, TensorView<float> product, ArrayView<float> bias, ArrayView<float> addend, WindowShape g) =>
            toBatchMajor.Launch(new ToBatchMajorPlaneOp(output.Data, product.Data, bias, addend, product.Shape[0], g.Batch, g.Plane), g.Batch * product.Shape[0], g.Plane);

        /// <summary>product (Cout, N * P) = dOutput (N, Cout, P).</summary>
        public void ToChannelMajor(TensorView<float> product, TensorView<float> dOutput, WindowShape g) =>
            toChannelMajor.Launch(new ToChannelMajorPlaneOp(product.Data, dOutput.Data, product.Shape[0], g.Batch, g.Plane), product.Shape[0] * g.Batch, g.Plane);

        /// <summary>dInput (N, C, H, W) = col2im(dColumns).</summary>
        public void Col2Im(TensorView<float> dInput, TensorView<float> dColumns, WindowShape g) =>
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

    /// <summary>
    /// dInput[n, c, h, w] = the sum of dColumns over the (kh, kw) whose window position reads (h, w); one item is the
    /// input plane (n, c), and the output rows covering an input row are found once per row.
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
    /// columns[r, q] for r = (c, kh, kw), q = (n, oh, ow), zero where the window reads padding; one item is the P columns
    /// of one (row, image), so the index arithmetic is done once per plane instead of once per element.
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

    /// <summary>output[n, c, p] = product[c, n * P + p] + bias[c] (+ addend[n, c, p]); one item is the plane (n, c).</summary>
    internal readonly record struct ToBatchMajorPlaneOp(
        ArrayView<float> Output, ArrayView<float> Product, ArrayView<float> Bias, ArrayView<float> Addend, int Channels, int Batch, int Plane) : IItemOp
    {
        public void Apply(int index)
        {
            int c = index % Channels, n = index / Channels;
            int to = index * Plane, from = ((c * Batch) + n) * Plane;
            float bias = Bias.Length > 0 ? Bias[c] : 0f;
            for (int p = 0; p < Plane; p++)
            {
                float v = Product[from + p] + bias;
                Output[to + p] = Addend.Length > 0 ? v + Addend[to + p] : v;
            }
        }
    }

    /// <summary>product[c, n * P + p] = dOutput[n, c, p]; one item is the plane (c, n).</summary>
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

/// <summary>
/// The sizes of one convolution for the implicit GEMMs, with the divisors their loaders use on every element
/// precomputed (a multiply and a shift instead of an integer division).
/// </summary>
internal readonly record struct ConvGeometry(
    int Batch,
    int Channels,
    int Height,
    int Width,
    int OutChannels,
    int Kernel,
    int Stride,
    int Padding,
    int OutHeight,
    int OutWidth,
    FastDivisor Plane,
    FastDivisor OutWidthDivisor,
    FastDivisor KernelArea,
    FastDivisor KernelSide,
    FastDivisor InputPlane,
    FastDivisor WidthDivisor,
    FastDivisor StrideDivisor)
{
    public static ConvGeometry Of(Shape input, Shape weight, Window window)
    {
        int oh = window.OutputSize(input[2]), ow = window.OutputSize(input[3]);
        return new ConvGeometry(
            input[0], input[1], input[2], input[3], weight[0], window.Kernel, window.Stride, window.Padding, oh, ow,
            new FastDivisor(Math.Max(1, oh * ow)), new FastDivisor(Math.Max(1, ow)), new FastDivisor(window.Kernel * window.Kernel),
            new FastDivisor(window.Kernel), new FastDivisor(Math.Max(1, input[2] * input[3])), new FastDivisor(Math.Max(1, input[3])), new FastDivisor(window.Stride));
    }

    /// <summary>OH * OW.</summary>
    public int Positions => OutHeight * OutWidth;

    /// <summary>C * K * K.</summary>
    public int Ckk => Channels * Kernel * Kernel;
}

/// <summary>
/// im2col (CKK, N * P) as a GEMM's right operand: B[(c, kh, kw), (n, oh, ow)] = input[n, c, oh s - pad + kh,
/// ow s - pad + kw], 0 where the window reads padding. Lines (columns) are (n, oh, ow), k is (c, kh, kw); the flat index
/// is the sum of a column's part and a k's part.
/// </summary>
internal readonly struct Im2ColB : IGemmOperand
{
    public Im2ColB(ArrayView<float> input, ConvGeometry g)
    {
        Data = input;
        G = g;
        Lines = new GatherAxis(
            new FastDivisor(Math.Max(1, g.OutWidth)), new FastDivisor(Math.Max(1, g.OutHeight)), g.Stride, g.Stride * g.Width,
            g.Channels * g.Height * g.Width, -(g.Padding * g.Width) - g.Padding);
        Ks = new GatherAxis(new FastDivisor(g.Kernel), new FastDivisor(g.Kernel), 1, g.Width, g.Height * g.Width, 0);
    }

    public ArrayView<float> Data { get; }

    public ConvGeometry G { get; }

    public GatherAxis Lines { get; }

    public GatherAxis Ks { get; }

    /// <summary>Whether input row oh s - pad + kh and column ow s - pad + kw lie inside the image.</summary>
    public bool Inside(GatherPos line, GatherPos k) =>
        (uint)((line.D1 * G.Stride) - G.Padding + k.D1) < (uint)G.Height && (uint)((line.D0 * G.Stride) - G.Padding + k.D0) < (uint)G.Width;

    public int Index(GatherPos line, GatherPos k) => line.Offset + k.Offset;
}

/// <summary>im2col transposed (N * P, CKK) as a right operand: B[(n, oh, ow), (c, kh, kw)], for the weight gradient.</summary>
internal readonly struct Im2ColTransposedB(Im2ColB columns) : IGemmOperand
{
    public ArrayView<float> Data => columns.Data;

    public GatherAxis Lines => columns.Ks;

    public GatherAxis Ks => columns.Lines;

    public bool Inside(GatherPos line, GatherPos k) => columns.Inside(k, line);

    public int Index(GatherPos line, GatherPos k) => line.Offset + k.Offset;
}

/// <summary>dOutput (N, Cout, P) seen as (Cout, N * P), a left operand: A[o, (n, p)] = dOutput[n, o, p].</summary>
internal readonly struct ChannelRowsA(ArrayView<float> dOutput, ConvGeometry g) : IGemmOperand
{
    public ArrayView<float> Data => dOutput;

    public GatherAxis Lines { get; } = GatherAxis.Linear(g.Positions);

    public GatherAxis Ks { get; } = new(new FastDivisor(Math.Max(1, g.Positions)), GatherAxis.Unbounded, 1, g.OutChannels * g.Positions, 0, 0);

    public bool Inside(GatherPos line, GatherPos k) => true;

    public int Index(GatherPos line, GatherPos k) => line.Offset + k.Offset;
}

/// <summary>The weight (Cout, C, K, K) transposed to (C, Cout * K * K), a left operand: A[c, (o, kh, kw)] = weight[o, c, kh, kw].</summary>
internal readonly struct WeightTransposedA(ArrayView<float> weight, ConvGeometry g) : IGemmOperand
{
    public ArrayView<float> Data => weight;

    public GatherAxis Lines { get; } = GatherAxis.Linear(g.Kernel * g.Kernel);

    public GatherAxis Ks { get; } = new(new FastDivisor(g.Kernel * g.Kernel), GatherAxis.Unbounded, 1, g.Channels * g.Kernel * g.Kernel, 0, 0);

    public bool Inside(GatherPos line, GatherPos k) => true;

    public int Index(GatherPos line, GatherPos k) => line.Offset + k.Offset;
}

/// <summary>
/// The right operand of the input gradient, (Cout * K * K, N * H * W): B[(o, kh, kw), (n, h, w)] = dOutput[n, o, oh, ow]
/// where oh s = h + pad - kh and ow s = w + pad - kw inside the output, else 0 (col2im as a gather). With stride 1 the
/// flat index is the sum of a column's part and a k's part; otherwise it divides by the stride.
/// </summary>
internal readonly struct Col2ImB : IGemmOperand
{
    public Col2ImB(ArrayView<float> dOutput, ConvGeometry g)
    {
        Data = dOutput;
        G = g;
        int outPlane = g.OutHeight * g.OutWidth;
        bool unit = g.Stride == 1;
        Lines = new GatherAxis(
            new FastDivisor(g.Width), new FastDivisor(g.Height), unit ? 1 : 0, unit ? g.OutWidth : 0, g.OutChannels * outPlane,
            unit ? (g.Padding * g.OutWidth) + g.Padding : 0);
        Ks = new GatherAxis(new FastDivisor(g.Kernel), new FastDivisor(g.Kernel), unit ? -1 : 0, unit ? -g.OutWidth : 0, outPlane, 0);
    }

    public ArrayView<float> Data { get; }

    public ConvGeometry G { get; }

    public GatherAxis Lines { get; }

    public GatherAxis Ks { get; }

    public bool Inside(GatherPos line, GatherPos k)
    {
        int th = line.D1 + G.Padding - k.D1, tw = line.D0 + G.Padding - k.D0;
        if (G.Stride == 1)
        {
            return (uint)th < (uint)G.OutHeight && (uint)tw < (uint)G.OutWidth;
        }

        if (th < 0 || tw < 0)
        {
            return false;
        }

        int oh = G.StrideDivisor.Divide(th), ow = G.StrideDivisor.Divide(tw);
        return oh * G.Stride == th && ow * G.Stride == tw && oh < G.OutHeight && ow < G.OutWidth;
    }

    public int Index(GatherPos line, GatherPos k)
    {
        if (G.Stride == 1)
        {
            return line.Offset + k.Offset;
        }

        int oh = G.StrideDivisor.Divide(line.D1 + G.Padding - k.D1), ow = G.StrideDivisor.Divide(line.D0 + G.Padding - k.D0);
        return line.Offset + k.Offset + (oh * G.OutWidth) + ow;
    }
}

/// <summary>
/// The forward's output: C[o, (n, p)] + bias[o], then + addend[n, o, p] (each none when empty), stored at output[n, o, p]
/// (NCHW).
/// </summary>
internal readonly record struct ConvOutput(ArrayView<float> Output, ArrayView<float> Bias, ArrayView<float> Addend, ConvGeometry G) : IGemmOut
{
    public void Store(int row, int col, int split, float sum)
    {
        int n = G.Plane.Divide(col), p = col - (n * G.Positions);
        int index = (((n * G.OutChannels) + row) * G.Positions) + p;
        float v = Bias.Length > 0 ? sum + Bias[row] : sum;
        Output[index] = Addend.Length > 0 ? v + Addend[index] : v;
    }
}

/// <summary>The input gradient: C[c, (n, h, w)] stored at dInput[n, c, h, w] (NCHW), overwriting.</summary>
internal readonly record struct ConvInputGradient(ArrayView<float> DInput, ConvGeometry G) : IGemmOut
{
    public void Store(int row, int col, int split, float sum)
    {
        int hw = G.Height * G.Width;
        int n = G.InputPlane.Divide(col), within = col - (n * hw);
        DInput[(((n * G.Channels) + row) * hw) + within] = sum;
    }
}

/// <summary>The three implicit GEMMs of a convolution on a GPU.</summary>
internal sealed class ImplicitGemms(Accelerator accelerator, LaunchPolicy policy, GemmWorkspace workspace)
{
    private readonly GemmForm<StridedOperand, Im2ColB, ConvOutput> forward = new(accelerator, policy, workspace, "ConvForward");
    private readonly GemmForm<ChannelRowsA, Im2ColTransposedB, MatrixOut> weightGradient = new(accelerator, policy, workspace, "ConvWeightGradient");
    private readonly GemmForm<WeightTransposedA, Col2ImB, ConvInputGradient> inputGradient = new(accelerator, policy, workspace, "ConvInputGradient");

    public void Reserve(ConvGeometry g, GemmPrecision precision)
    {
        int np = g.Batch * g.Positions, kk = g.Kernel * g.Kernel;
        forward.Reserve(g.OutChannels, np, g.Ckk, precision);
        weightGradient.Reserve(g.OutChannels, g.Ckk, np, precision);
        inputGradient.Reserve(g.Channels, g.Batch * g.Height * g.Width, g.OutChannels * kk, precision);
    }

    /// <summary>output (N, Cout, OH, OW) = conv(input, weight) + bias + addend.</summary>
    public void Forward(
        TensorView<float> output, TensorView<float> input, TensorView<float> weight, ArrayView<float> bias, ArrayView<float> addend, ConvGeometry g, GemmPrecision precision) =>
        forward.Run(
            new StridedOperand(weight.Data, g.Ckk, 1), new Im2ColB(input.Data, g), new ConvOutput(output.Data, bias, addend, g),
            g.OutChannels, g.Batch * g.Positions, g.Ckk, precision, aAlongK: true, bAlongN: true,
            aVector: g.Ckk % 4 == 0 && ViewAlignment.Is16ByteAligned(weight.Data));

    /// <summary>dWeight (Cout, CKK) += dOutput (Cout, N * P) im2col(input)^T.</summary>
    public void WeightGradient(TensorView<float> dWeight, TensorView<float> dOutput, TensorView<float> input, ConvGeometry g, GemmPrecision precision) =>
        weightGradient.Run(
            new ChannelRowsA(dOutput.Data, g), new Im2ColTransposedB(new Im2ColB(input.Data, g)), new MatrixOut(dWeight.Data, default, default, default, g.Ckk, 1f, 1f, 0),
            g.OutChannels, g.Ckk, g.Batch * g.Positions, precision, aAlongK: true, bAlongN: false);

    /// <summary>dInput (N, C, H, W) = col2im(weight^T dOutput), as one GEMM gathering dOutput.</summary>
    public void InputGradient(TensorView<float> dInput, TensorView<float> dOutput, TensorView<float> weight, ConvGeometry g, GemmPrecision precision) =>
        inputGradient.Run(
            new WeightTransposedA(weight.Data, g), new Col2ImB(dOutput.Data, g), new ConvInputGradient(dInput.Data, g),
            g.Channels, g.Batch * g.Height * g.Width, g.OutChannels * g.Kernel * g.Kernel, precision, aAlongK: true, bAlongN: true);
}
