using GpuNet.Kernels;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Device = GpuNet.Engine.Device;

namespace GpuNet.Benchmarks;

/// <summary>
/// Times every kernel family at shapes of the MLP and VGG steps, each beside its yardstick from the same run; GEMMs and
/// convolutions in each of <paramref name="precisions"/> (a tf32 row's kernel name ends in "_tf32").
/// </summary>
public sealed class KernelBenchmarks(Device device, bool quick, string? filter, IReadOnlyList<GemmPrecision> precisions) : IDisposable
{
    /// <summary>
    /// Quick mode (CI's run on 2 cores) times tf32 only below this many multiply-adds: the 128^3 square, the MLP's
    /// shapes and the small convolution, not 256^3.
    /// </summary>
    private const long QuickTf32MultiplyAdds = 256L * 256 * 256;

    private readonly List<IDisposable> owned = [];
    private readonly Random random = new(1);
    private readonly int repeats = quick ? 3 : 10;
    private readonly bool cpu = device.Kernels.Policy.IsCpu;
    private readonly string accelerator = GpuNet.Engine.DeviceSelector.Describe(device.Info.Kind);
    private readonly Dictionary<(int M, int N, int K), double> managedGemmMs = [];
    private CuBlasYardstick? cuBlas;
    private bool cuBlasTried;
    private double? copyGbps;

    public List<BenchRow> Rows { get; } = [];

    private KernelLibrary K => device.Kernels;

    public void RunAll()
    {
        LaunchOverhead();
        int[] squares = quick ? [128, 256] : cpu ? [256, 512] : [256, 512, 1024, 4096];
        foreach (int size in squares)
        {
            foreach (var precision in PrecisionsAt((long)size * size * size))
            {
                Gemm(size, size, size, precision);
            }
        }

        // On a GPU every GEMM shape of the MLP, mlp-deep and VGG training steps (read from their launch plans; the
        // convolutions' implicit GEMMs timed as plain GEMMs of the same M, N, K, beside cuBLAS); on the CPU accelerator
        // the MLPs' shapes and two of the VGG's (its large ones take seconds each there).
        var modelShapes = quick
            ? new (int M, int N, int K)[] { (200, 100, 784), (100, 784, 200) }
            : cpu
                ? [(200, 100, 784), (100, 784, 200), (400, 512, 784), (512, 784, 400), (400, 784, 512), (128, 6272, 576), (512, 512, 2304)]
                : StepGemmShapes();
        foreach (var (m, n, k) in modelShapes)
        {
            foreach (var precision in PrecisionsAt((long)m * n * k))
            {
                Gemm(m, n, k, precision);
            }
        }

        // (N, C, H, W, Cout): VGG conv2 and conv4b at batch 32 (quick: narrow and small).
        var convs = quick ? new[] { (8, 8, 14, 14, 16) } : cpu ? new[] { (32, 8, 14, 14, 16), (32, 64, 14, 14, 128), (32, 256, 4, 4, 512) } : new[] { (32, 64, 14, 14, 128), (32, 256, 7, 7, 256), (32, 512, 4, 4, 512) };
        foreach (var (n, c, h, w, cout) in convs)
        {
            foreach (var precision in PrecisionsAt((long)n * h * w * cout * c * 9))
            {
                Convolution(n, c, h, w, cout, precision);
            }
        }

        int elements = quick ? 1 << 16 : cpu ? 1 << 21 : 1 << 25;
        Relu(elements);
        BatchNorm(quick ? 8 : 32, quick ? 16 : 128, quick ? 14 : 28);
        MaxPool(quick ? 8 : 32, quick ? 16 : 64, 28);
        Softmax(quick ? 200 : 4096, 10);
    }

    public void Dispose()
    {
        cuBlas?.Dispose();
        foreach (var d in owned)
        {
            d.Dispose();
        }
    }

    /// <summary>The name of a GEMM or convolution row in <paramref name="precision"/>: fp32 rows keep the plain name.</summary>
    public static string RowName(string kernel, GemmPrecision precision) => precision == GemmPrecision.Tf32 ? kernel + "_tf32" : kernel;

    private bool Selected(string kernel) => filter is null || kernel.Contains(filter, StringComparison.OrdinalIgnoreCase);

    private IEnumerable<GemmPrecision> PrecisionsAt(long multiplyAdds) =>
        precisions.Where(p => !(quick && p == GemmPrecision.Tf32 && multiplyAdds >= QuickTf32MultiplyAdds));

    private TensorView<float> Random(params int[] dims)
    {
        var shape = new Shape(dims);
        var data = new float[shape.Length];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (float)((random.NextDouble() * 2) - 1);
        }

        var buffer = device.Accelerator.Allocate1D(data);
        owned.Add(buffer);
        return new TensorView<float>(buffer.View, shape);
    }

    private TensorView<int> Ints(int length, int below)
    {
        var buffer = device.Accelerator.Allocate1D(Enumerable.Range(0, length).Select(_ => random.Next(below)).ToArray());
        owned.Add(buffer);
        return new TensorView<int>(buffer.View, new Shape(length));
    }

    private static float[] Host(int length, Random random) => Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();

    private void Add(string kernel, string shape, (double Median, double Min, double Max) t, double? flops, double? bytes, double? yardstickMs, string? yardstickBytesNote = null)
    {
        _ = yardstickBytesNote;
        double? ratio = yardstickMs is { } y ? y / t.Median : null;
        var row = new BenchRow(kernel, shape, accelerator, t.Median, t.Min, t.Max, flops / (t.Median * 1e6), bytes / (t.Median * 1e6), ratio);
        Rows.Add(row);
        Console.WriteLine(row);
    }

    /// <summary>The yardstick of a memory-bound op on CUDA: the time a device-to-device copy of the same bytes takes.</summary>
    private double? CopyYardstickMs(double bytes)
    {
        if (device.Info.Kind != GpuNet.Engine.AcceleratorKind.Cuda)
        {
            return null;
        }

        if (copyGbps is null)
        {
            long length = 1L << 26;
            using var source = device.Accelerator.Allocate1D<float>(length);
            using var target = device.Accelerator.Allocate1D<float>(length);
            var t = Timer.Measure(repeats, () =>
            {
                target.View.CopyFrom(source.View);
                device.Synchronize();
            });
            copyGbps = 2.0 * length * 4 / (t.MedianMs * 1e6);
            Console.WriteLine($"device-to-device copy: {copyGbps:F1} GB/s (the yardstick of memory-bound kernels)");
        }

        return bytes / (copyGbps * 1e6);
    }

    private void Gemm(int m, int n, int k, GemmPrecision precision)
    {
        string kernel = RowName("gemm", precision);
        if (!Selected(kernel))
        {
            return;
        }

        var a = Random(m, k);
        var b = Random(k, n);
        var c = Random(m, n);
        var t = Timer.Measure(repeats, () =>
        {
            K.Gemm.Multiply(c, a, Transpose.None, b, Transpose.None, precision: precision);
            device.Synchronize();
        });
        double? yardstick = null;
        if (cpu)
        {
            // The managed fp32 GEMM for both precisions (measured once per shape): a tf32 row's ratio includes what
            // rounding its operands costs.
            if (!managedGemmMs.TryGetValue((m, n, k), out double managedMs))
            {
                var r = new Random(2);
                float[] ha = Host(m * k, r), hb = Host(k * n, r), hc = new float[m * n];
                managedMs = managedGemmMs[(m, n, k)] = Timer.Measure(repeats, () => Managed.Gemm(ha, hb, hc, m, n, k)).MedianMs;
            }

            yardstick = managedMs;
        }
        else if (CuBlasHandle() is { } blas && blas.Has(precision))
        {
            yardstick = Timer.Measure(repeats, () =>
            {
                blas.Gemm(precision, c.Data, a.Data, b.Data, m, n, k);
                device.Synchronize();
            }).MedianMs;
        }

        Add(kernel, $"{m}x{n}x{k}", t, 2.0 * m * n * k, null, yardstick);
    }

    /// <summary>The distinct GEMM shapes of one training step of each model, from its launch plans in both precisions, in plan order.</summary>
    private static (int M, int N, int K)[] StepGemmShapes()
    {
        var shapes = new List<(int, int, int)>();
        foreach (string model in new[] { "mlp", "mlp-deep", "vgg" })
        {
            foreach (var precision in Enum.GetValues<GemmPrecision>())
            {
                foreach (var record in LaunchPlan.Make(model, 1, 132, precision).Launches)
                {
                    if (record.Gemm is { } g && !shapes.Contains((g.M, g.N, g.K)))
                    {
                        shapes.Add((g.M, g.N, g.K));
                    }
                }
            }
        }

        return [.. shapes];
    }

    /// <summary>
    /// The cost of one kernel launch through ILGPU: 100 launches of a one-element fill, then one wait, per launch. On a
    /// GPU this is what a training step pays per launch besides the work.
    /// </summary>
    private void LaunchOverhead()
    {
        if (!Selected("launch"))
        {
            return;
        }

        const int launches = 100;
        var one = Random(1);
        var t = Timer.Measure(repeats, () =>
        {
            for (int i = 0; i < launches; i++)
            {
                K.Elementwise.Fill(one, 1f);
            }

            device.Synchronize();
        });
        var row = new BenchRow("launch_overhead", "fill1", accelerator, t.MedianMs / launches, t.MinMs / launches, t.MaxMs / launches, null, null, null);
        Rows.Add(row);
        Console.WriteLine(FormattableString.Invariant($"{row}  {t.MedianMs * 1000 / launches:F1} us per launch"));
    }

    private CuBlasYardstick? CuBlasHandle()
    {
        if (!cuBlasTried && device.Accelerator is CudaAccelerator cuda)
        {
            cuBlasTried = true;
            cuBlas = CuBlasYardstick.TryCreate(cuda);
        }

        return cuBlas;
    }

    private void Convolution(int n, int c, int h, int w, int cout, GemmPrecision precision)
    {
        string forwardName = RowName("conv_forward", precision), backwardName = RowName("conv_backward", precision);
        if (!Selected(forwardName) && !Selected(backwardName))
        {
            return;
        }

        var window = new Window(3, 1, 1);
        var input = Random(n, c, h, w);
        var weight = Random(cout, c, 3, 3);
        var bias = Random(cout);
        var output = Random(n, cout, h, w);
        var columns = Random(GpuNet.Kernels.Convolution.ColumnsLength(input.Shape, weight.Shape, window));
        var scratch = Random(GpuNet.Kernels.Convolution.ScratchLength(input.Shape, weight.Shape, window));
        var dWeight = Random(cout, c, 3, 3);
        var dBias = Random(cout);
        var dInput = Random(n, c, h, w);
        double flops = 2.0 * n * cout * h * w * c * 9;
        string shape = $"{n}x{c}x{h}x{w}->{cout}";
        var forward = Timer.Measure(repeats, () =>
        {
            K.Convolution.Forward(output, input, weight, bias, window, columns, scratch, precision);
            device.Synchronize();
        });
        double? yardstick = null;
        if (cpu)
        {
            // The managed fp32 convolution for both precisions, as for the GEMM rows.
            var r = new Random(3);
            float[] hx = Host(input.Length, r), hw = Host(weight.Length, r), hcols = new float[columns.Length], hprod = new float[scratch.Length];
            yardstick = Timer.Measure(repeats, () => Managed.Conv(hx, hw, hcols, hprod, n, c, h, w, cout, 3, 1, 1)).MedianMs;
        }
        else if (CuBlasHandle() is { } blas && blas.Has(precision))
        {
            // cuBLAS for the convolution's GEMM alone, weight (cout, ckk) times columns (ckk, np) (our im2col and
            // layout copies included on our side).
            int ckk = c * 9, np = n * h * w;
            yardstick = Timer.Measure(repeats, () =>
            {
                blas.Gemm(precision, scratch.Data, weight.Data, columns.Data, cout, np, ckk);
                device.Synchronize();
            }).MedianMs;
        }

        Add(forwardName, shape, forward, flops, null, yardstick);
        var backward = Timer.Measure(repeats, () =>
        {
            K.Convolution.Backward(dInput, dWeight, dBias, output, input, weight, window, columns, scratch, precision);
            device.Synchronize();
        });
        Add(backwardName, shape, backward, 2 * flops, null, null);
    }

    private void Relu(int length)
    {
        if (!Selected("relu"))
        {
            return;
        }

        var x = Random(length);
        var y = Random(length);
        var t = Timer.Measure(repeats, () =>
        {
            K.Elementwise.ReluForward(y, x);
            device.Synchronize();
        });
        double bytes = 8.0 * length;
        double? yardstick = cpu ? ManagedMs(() => Host(length, new Random(4)), hx => { var hy = new float[length]; return () => Managed.Relu(hx, hy); }) : CopyYardstickMs(bytes);
        Add("relu_forward", $"{length}", t, null, bytes, yardstick);
        var dx = Random(length);
        var tb = Timer.Measure(repeats, () =>
        {
            K.Elementwise.ReluBackward(dx, x, y);
            device.Synchronize();
        });
        Add("relu_backward", $"{length}", tb, null, 12.0 * length, cpu ? null : CopyYardstickMs(12.0 * length));
    }

    private double ManagedMs(Func<float[]> make, Func<float[], Action> bind)
    {
        var action = bind(make());
        return Timer.Measure(repeats, action).MedianMs;
    }

    private void BatchNorm(int n, int c, int side)
    {
        if (!Selected("batchnorm"))
        {
            return;
        }

        var x = Random(n, c, side, side);
        var y = Random(n, c, side, side);
        var gamma = Random(c);
        var beta = Random(c);
        var mean = Random(c);
        var invStd = Random(c);
        var runMean = Random(c);
        var runVar = Random(c);
        string shape = $"{n}x{c}x{side}x{side}";
        double bytes = 4.0 * x.Length * 4; // two statistics passes, one read and one write to normalize
        var t = Timer.Measure(repeats, () =>
        {
            K.BatchNorm.ForwardTraining(y, mean, invStd, runMean, runVar, x, gamma, beta);
            device.Synchronize();
        });
        double? yardstick = cpu
            ? ManagedMs(() => Host(x.Length, new Random(5)), hx => { var hy = new float[hx.Length]; return () => Managed.BatchNorm(hx, hy, n, c, side * side); })
            : CopyYardstickMs(bytes);
        Add("batchnorm_forward", shape, t, null, bytes, yardstick);
        var dx = Random(n, c, side, side);
        var tb = Timer.Measure(repeats, () =>
        {
            K.BatchNorm.Backward(dx, gamma, beta, y, x, gamma, mean, invStd);
            device.Synchronize();
        });
        Add("batchnorm_backward", shape, tb, null, 4.0 * x.Length * 5, cpu ? null : CopyYardstickMs(4.0 * x.Length * 5));
    }

    private void MaxPool(int n, int c, int side)
    {
        if (!Selected("pool"))
        {
            return;
        }

        var window = new Window(3, 2, 1);
        var x = Random(n, c, side, side);
        var outShape = Pooling.OutputShape(x.Shape, window);
        var y = Random(outShape[0], outShape[1], outShape[2], outShape[3]);
        var buffer = device.Accelerator.Allocate1D<int>(outShape.Length);
        owned.Add(buffer);
        var argmax = new TensorView<int>(buffer.View, outShape);
        string shape = $"{n}x{c}x{side}x{side}";
        double bytes = 4.0 * (x.Length + (2 * y.Length));
        var t = Timer.Measure(repeats, () =>
        {
            K.Pooling.MaxForward(y, argmax, x, window);
            device.Synchronize();
        });
        double? yardstick = cpu
            ? ManagedMs(() => Host(x.Length, new Random(6)), hx => { var hy = new float[y.Length]; return () => Managed.MaxPool(hx, hy, n * c, side, side, 3, 2, 1); })
            : CopyYardstickMs(bytes);
        Add("maxpool_forward", shape, t, null, bytes, yardstick);
        var dx = Random(n, c, side, side);
        var tb = Timer.Measure(repeats, () =>
        {
            K.Pooling.MaxBackward(dx, y, argmax, window);
            device.Synchronize();
        });
        Add("maxpool_backward", shape, tb, null, bytes, cpu ? null : CopyYardstickMs(bytes));
    }

    private void Softmax(int rows, int classes)
    {
        if (!Selected("softmax"))
        {
            return;
        }

        var logits = Random(rows, classes);
        var dLogits = Random(rows, classes);
        var labels = Ints(rows, classes);
        var loss = Random(1);
        var correctBuffer = device.Accelerator.Allocate1D<int>(1);
        owned.Add(correctBuffer);
        var correct = new TensorView<int>(correctBuffer.View, new Shape(1));
        double bytes = 4.0 * ((2 * logits.Length) + rows);
        var t = Timer.Measure(repeats, () =>
        {
            K.SoftmaxCrossEntropy.Compute(dLogits, loss, correct, logits, labels);
            device.Synchronize();
        });
        double? yardstick = null;
        if (cpu)
        {
            var r = new Random(7);
            float[] hl = Host(logits.Length, r), hg = new float[logits.Length];
            int[] hlabels = Enumerable.Range(0, rows).Select(_ => r.Next(classes)).ToArray();
            yardstick = Timer.Measure(repeats, () => Managed.SoftmaxCrossEntropy(hl, hlabels, hg, rows, classes)).MedianMs;
        }
        else
        {
            yardstick = CopyYardstickMs(bytes);
        }

        Add("softmax_cross_entropy", $"{rows}x{classes}", t, null, bytes, yardstick);
    }
}
