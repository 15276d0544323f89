// Max and average pooling over square windows, and global average pooling (each plane to its mean). Legend: input (N, C, H, W), output (N, C, OH, OW).
// Max: padding never wins (it is -infinity), a NaN does (the last NaN of the window, as PyTorch's max pooling);
// the forward saves argmax, the index h * W + w of the winning input in
// its plane (the first maximum in row-major window order). Average: padding counts as zeros and the divisor is always
// K * K (PyTorch's count_include_pad=True). Backward passes gather over the windows covering each input element,
// in a fixed order (no atomics); dInput is overwritten.
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

/// <summary>Max and average pooling, forward and backward.</summary>
public sealed class Pooling
{
    private readonly ItemKernel<MaxForwardOp> maxForward;
    private readonly ItemKernel<MaxBackwardOp> maxBackward;
    private readonly ItemKernel<AverageForwardOp> averageForward;
    private readonly ItemKernel<AverageBackwardOp> averageBackward;
    private readonly ItemKernel<GlobalAverageForwardOp> globalAverageForward;
    private readonly ItemKernel<GlobalAverageBackwardOp> globalAverageBackward;

    internal Pooling(Accelerator accelerator, LaunchPolicy policy)
    {
        maxForward = new(accelerator, policy);
        maxBackward = new(accelerator, policy);
        averageForward = new(accelerator, policy);
        averageBackward = new(accelerator, policy);
        globalAverageForward = new(accelerator, policy);
        globalAverageBackward = new(accelerator, policy);
    }

    /// <summary>The output shape (N, C, OH, OW) of pooling an (N, C, H, W) input.</summary>
    public static Shape OutputShape(Shape input, Window window)
    {
        if (input.Rank != 4)
        {
            throw new ArgumentException($"Pooling needs an (N, C, H, W) input, got shape {input}.");
        }

        window.Validate(input[2], input[3], "Pooling");
        if (2 * window.Padding > window.Kernel)
        {
            throw new ArgumentException($"Pooling padding {window.Padding} must be at most half the kernel size {window.Kernel}.");
        }

        return new Shape(input[0], input[1], window.OutputSize(input[2]), window.OutputSize(input[3]));
    }

    /// <summary>output = the maximum over each window; argmax = where it was (h * W + w in the input plane).</summary>
    public void MaxForward(TensorView<float> output, TensorView<int> argmax, TensorView<float> input, Window window)
    {
        Check.Shape(output, OutputShape(input.Shape, window), nameof(output));
        Check.SameShape(argmax, nameof(argmax), output, nameof(output));
        maxForward.Launch(new MaxForwardOp(output.Data, argmax.Data, input.Data, WindowShape.Of(input.Shape, window)), output.Length);
    }

    /// <summary>dInput[i] = the sum of dOutput over the windows whose saved argmax is i.</summary>
    public void MaxBackward(TensorView<float> dInput, TensorView<float> dOutput, TensorView<int> argmax, Window window)
    {
        Check.Shape(dOutput, OutputShape(dInput.Shape, window), nameof(dOutput));
        Check.SameShape(argmax, nameof(argmax), dOutput, nameof(dOutput));
        maxBackward.Launch(new MaxBackwardOp(dInput.Data, dOutput.Data, argmax.Data, WindowShape.Of(dInput.Shape, window)), dInput.Length);
    }

    /// <summary>output = the sum over each window (padding as zeros) divided by K * K.</summary>
    public void AverageForward(TensorView<float> output, TensorView<float> input, Window window)
    {
        Check.Shape(output, OutputShape(input.Shape, window), nameof(output));
        averageForward.Launch(new AverageForwardOp(output.Data, input.Data, WindowShape.Of(input.Shape, window)), output.Length);
    }

    /// <summary>dInput[i] = the sum of dOutput over the windows covering i, divided by K * K.</summary>
    public void AverageBackward(TensorView<float> dInput, TensorView<float> dOutput, Window window)
    {
        Check.Shape(dOutput, OutputShape(dInput.Shape, window), nameof(dOutput));
        averageBackward.Launch(new AverageBackwardOp(dInput.Data, dOutput.Data, WindowShape.Of(dInput.Shape, window)), dInput.Length);
    }

    /// <summary>output (N, C, 1, 1) = the mean of each (H, W) plane of input (N, C, H, W), summed in row-major order.</summary>
    public void GlobalAverageForward(TensorView<float> output, TensorView<float> input)
    {
        Check.Rank(input, 4, nameof(input));
        Check.Shape(output, new Shape(input.Shape[0], input.Shape[1], 1, 1), nameof(output));
        int plane = input.Shape[2] * input.Shape[3];
        globalAverageForward.Launch(new GlobalAverageForwardOp(output.Data, input.Data, plane), output.Length, plane);
    }

    /// <summary>dInput[n, c, h, w] = dOutput[n, c] / (H * W).</summary>
    public void GlobalAverageBackward(TensorView<float> dInput, TensorView<float> dOutput)
    {
        Check.Rank(dInput, 4, nameof(dInput));
        Check.Shape(dOutput, new Shape(dInput.Shape[0], dInput.Shape[1], 1, 1), nameof(dOutput));
        globalAverageBackward.Launch(new GlobalAverageBackwardOp(dInput.Data, dOutput.Data, dInput.Shape[2] * dInput.Shape[3]), dInput.Length);
    }

    internal readonly record struct GlobalAverageForwardOp(ArrayView<float> Output, ArrayView<float> Input, int Plane) : IItemOp
    {
        public void Apply(int index)
        {
            int start = index * Plane;
            float sum = 0f;
            for (int i = 0; i < Plane; i++)
            {
                sum += Input[start + i];
            }

            Output[index] = sum / Plane;
        }
    }

    internal readonly record struct GlobalAverageBackwardOp(ArrayView<float> DInput, ArrayView<float> DOutput, int Plane) : IItemOp
    {
        public void Apply(int index) => DInput[index] = DOutput[index / Plane] / Plane;
    }

    internal readonly record struct MaxForwardOp(ArrayView<float> Output, ArrayView<int> Argmax, ArrayView<float> Input, WindowShape G) : IItemOp
    {
        public void Apply(int index)
        {
            int ow = index % G.OutWidth, oh = (index / G.OutWidth) % G.OutHeight, plane = index / G.Plane;
            int planeBase = plane * G.Height * G.Width;
            int h0 = (oh * G.Stride) - G.Padding, w0 = (ow * G.Stride) - G.Padding;
            float best = float.NegativeInfinity;
            int bestIndex = -1;
            for (int h = Math.Max(h0, 0), hEnd = Math.Min(h0 + G.Kernel, G.Height); h < hEnd; h++)
            {
                for (int w = Math.Max(w0, 0), wEnd = Math.Min(w0 + G.Kernel, G.Width); w < wEnd; w++)
                {
                    float v = Input[planeBase + (h * G.Width) + w];
                    if (v > best || bestIndex < 0 || float.IsNaN(v))
                    {
                        best = v;
                        bestIndex = (h * G.Width) + w;
                    }
                }
            }

            Output[index] = best;
            Argmax[index] = bestIndex;
        }
    }

    internal readonly record struct MaxBackwardOp(ArrayView<float> DInput, ArrayView<float> DOutput, ArrayView<int> Argmax, WindowShape G) : IItemOp
    {
        public void Apply(int index)
        {
            int inPlane = index % (G.Height * G.Width), plane = index / (G.Height * G.Width);
            int h = inPlane / G.Width, w = inPlane % G.Width;
            int outBase = plane * G.Plane;
            float sum = 0f;
            for (int oh = G.FirstCovering(h), ohEnd = G.EndCovering(h, G.OutHeight); oh < ohEnd; oh++)
            {
                for (int ow = G.FirstCovering(w), owEnd = G.EndCovering(w, G.OutWidth); ow < owEnd; ow++)
                {
                    int o = outBase + (oh * G.OutWidth) + ow;
                    if (Argmax[o] == inPlane)
                    {
                        sum += DOutput[o];
                    }
                }
            }

            DInput[index] = sum;
        }
    }

    internal readonly record struct AverageForwardOp(ArrayView<float> Output, ArrayView<float> Input, WindowShape G) : IItemOp
    {
        public void Apply(int index)
        {
            int ow = index % G.OutWidth, oh = (index / G.OutWidth) % G.OutHeight, plane = index / G.Plane;
            int planeBase = plane * G.Height * G.Width;
            int h0 = (oh * G.Stride) - G.Padding, w0 = (ow * G.Stride) - G.Padding;
            float sum = 0f;
            for (int h = Math.Max(h0, 0), hEnd = Math.Min(h0 + G.Kernel, G.Height); h < hEnd; h++)
            {
                for (int w = Math.Max(w0, 0), wEnd = Math.Min(w0 + G.Kernel, G.Width); w < wEnd; w++)
                {
                    sum += Input[planeBase + (h * G.Width) + w];
                }
            }

            Output[index] = sum / (G.Kernel * G.Kernel);
        }
    }

    internal readonly record struct AverageBackwardOp(ArrayView<float> DInput, ArrayView<float> DOutput, WindowShape G) : IItemOp
    {
        public void Apply(int index)
        {
            int inPlane = index % (G.Height * G.Width), plane = index / (G.Height * G.Width);
            int h = inPlane / G.Width, w = inPlane % G.Width;
            int outBase = plane * G.Plane;
            float sum = 0f;
            for (int oh = G.FirstCovering(h), ohEnd = G.EndCovering(h, G.OutHeight); oh < ohEnd; oh++)
            {
                for (int ow = G.FirstCovering(w), owEnd = G.EndCovering(w, G.OutWidth); ow < owEnd; ow++)
                {
                    sum += DOutput[outBase + (oh * G.OutWidth) + ow];
                }
            }

            DInput[index] = sum / (G.Kernel * G.Kernel);
        }
    }
}
