// gpunet train's options: each one's name, help and accepted values, and the TrainConfig a command line gives (a
// built-in's or a model file's defaults, overridden by what was given).
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using GpuNet.Engine;
using GpuNet.Engine.Data;
using GpuNet.Engine.Distributed;
using GpuNet.Engine.Layers;
using GpuNet.Engine.Models;
using GpuNet.Engine.Runs;

namespace GpuNet.Cli;

/// <summary>The options of gpunet train and the configuration they give.</summary>
internal sealed class TrainOptions
{
    public TrainOptions()
    {
        Model.CompletionSources.Add([.. Choices.Models]);
        Dataset.AcceptOnlyFromAmong([.. Choices.Datasets]);
        Optimizer.AcceptOnlyFromAmong([.. Choices.Optimizers]);
        Init.AcceptOnlyFromAmong([.. Choices.Of<WeightInit>()]);
        Normalize.AcceptOnlyFromAmong([.. Choices.Of<Normalization>()]);
        Precision.AcceptOnlyFromAmong([.. Choices.Of<GpuNet.Kernels.GemmPrecision>()]);
        OnNan.AcceptOnlyFromAmong([.. Choices.Of<NanPolicy>()]);
        LrSchedule.AcceptOnlyFromAmong([.. Choices.Of<GpuNet.Engine.Optim.LearningRateKind>()]);
        Distributed.AcceptOnlyFromAmong([.. Choices.Of<DistributedMode>()]);
        Keep.AcceptOnlyFromAmong([.. Choices.Of<KeepModel>()]);
    }

    public Option<string> Model { get; } = new("--model") { Description = "mlp (the reference MLP), mlp-deep (the tuned MLP), vgg (the ConvNet), or a model file (NAME.json; see 'gpunet models').", DefaultValueFactory = _ => BuiltinModels.Name(BuiltinModel.Mlp) };

    public Option<string> Dataset { get; } = new("--dataset") { Description = "fashion-mnist (embedded), mnist or cifar10 (from --data-dir).", DefaultValueFactory = _ => DataSets.Name(DatasetKind.FashionMnist) };

    public Option<string?> DataDir { get; } = new("--data-dir") { Description = "Directory holding the data set's files (IDX or CIFAR-10 binary)." };

    public Option<int?> Channels { get; } = new("--channels") { Description = "--dataset folder: read the images as 1 (gray) or 3 (RGB) channels (default: the first image's)." };

    public Option<string?> ImageSize { get; } = new("--image-size") { Description = "--dataset folder: resize every image to HxW (default: the first image's size, which every image must then have)." };

    public Option<int[]?> Hidden { get; } = new("--hidden") { Description = "Hidden layer widths, comma-separated (mlp: 100; mlp-deep: 512,512,256,128,64).", CustomParser = ParseWidths };

    public Option<string?> Optimizer { get; } = new("--optimizer") { Description = "sgd or adam (mlp: sgd; mlp-deep and vgg: adam)." };

    public Option<double?> Lr { get; } = new("--lr") { Description = "Learning rate (mlp: 2e-3; mlp-deep: 2e-4; vgg: 1e-4)." };

    public Option<double?> Momentum { get; } = new("--momentum") { Description = "SGD momentum (default 0)." };

    public Option<double?> WeightDecay { get; } = new("--weight-decay") { Description = "L2 weight decay (default 0)." };

    public Option<int?> BatchSize { get; } = new("--batch-size") { Description = "Batch size (mlp: 200; mlp-deep: 400; vgg: 32)." };

    public Option<int?> Steps { get; } = new("--steps") { Description = "Training steps (mlp: 1500; mlp-deep: 4000; vgg: 5000)." };

    public Option<int?> EvalEvery { get; } = new("--eval-every") { Description = "Evaluate on the whole test set every N steps and at the end (mlp: 100; vgg: 500)." };

    public Option<double?> Width { get; } = new("--width") { Description = "vgg or a model file: multiply every convolution's channel count by F (at least 1 channel); 1 is the model as written." };

    public Option<bool> BatchNorm { get; } = new("--batch-norm") { Description = "MLP: BatchNorm after each hidden Linear (Linear -> BatchNorm -> ReLU)." };

    public Option<string?> Init { get; } = new("--init") { Description = "Weight init: small-normal (N(0, 1e-4^2), the reference MLP's) or kaiming-uniform (PyTorch's default; mlp-deep and vgg)." };

    public Option<string?> Normalize { get; } = new("--normalize") { Description = "none (subtract the mean image, keep the 0..255 scale; mlp and mlp-deep) or standard (per-channel mean/std; vgg)." };

    public Option<int> Seed { get; } = new("--seed") { Description = "Seed of initialization and data order.", DefaultValueFactory = _ => 42 };

    public Option<string> Precision { get; } = new("--precision")
    {
        Description = "GEMM arithmetic: fp32 (default) or tf32 (operands rounded to TF32, fp32 sums: tensor cores on CUDA, the same numerics emulated elsewhere).",
        DefaultValueFactory = _ => "fp32",
    };

    public Option<string> Accelerator { get; } = Program.AcceleratorOption();

    public Option<string?> OutDir { get; } = new("--out") { Description = "Run directory (default runs/<timestamp>-<model>)." };

    public Option<bool> Force { get; } = new("--force") { Description = "Write into --out even if it already holds files." };

    public Option<int?> CheckpointEvery { get; } = new("--checkpoint-every") { Description = "Write checkpoint.safetensors every N steps (default: at every evaluation), and always at the end and on an interrupt." };

    public Option<string> OnNan { get; } = new("--on-nan") { Description = "On a non-finite loss or gradient: stop (default; keeps the last good checkpoint) or skip the step.", DefaultValueFactory = _ => "stop" };

    public Option<string?> LrSchedule { get; } = new("--lr-schedule") { Description = "constant (default), cosine (half a cosine to 0 over the steps after warm-up) or step (times --lr-step-factor every --lr-step-every steps)." };

    public Option<int?> Warmup { get; } = new("--warmup-steps") { Description = "Raise the learning rate linearly from 0 over the first N steps (default 0)." };

    public Option<int?> LrStepEvery { get; } = new("--lr-step-every") { Description = "step schedule: steps between decays (default 1000)." };

    public Option<double?> LrStepFactor { get; } = new("--lr-step-factor") { Description = "step schedule: the factor of each decay (default 0.1)." };

    public Option<string?> Augment { get; } = new("--augment") { Description = "Training-image augmentation on the device: flip (mirror, p = 0.5), crop (zero-pad, random crop back), or flip,crop. Off by default; never at evaluation." };

    public Option<int?> CropPadding { get; } = new("--crop-padding") { Description = "crop augmentation: zero padding of 2 or 4 pixels (default 4)." };

    public Option<double?> Dropout { get; } = new("--dropout") { Description = "mlp, mlp-deep: inverted dropout with probability P after each hidden ReLU (default 0: none)." };

    public Option<double?> LabelSmoothing { get; } = new("--label-smoothing") { Description = "Label smoothing E of the training loss, as PyTorch's CrossEntropyLoss(label_smoothing=E) (default 0); the test loss stays plain cross-entropy." };

    public Option<string> Distributed { get; } = new("--distributed")
    {
        Description = "auto (MPI when started by mpirun or a scheduler's MPI launcher with several processes; else one process), none or mpi.",
        DefaultValueFactory = _ => "auto",
    };

    public Option<string?> Nccl { get; } = new("--nccl") { Description = "libnccl.so.2 to all-reduce gradients between CUDA devices (default: GPUNET_NCCL, the loader's path, Python's site-packages)." };

    public Option<double?> ValSplit { get; } = new("--val-split") { Description = "Hold out this share of the training set for validation, by a fixed draw (seed 0), evaluated beside the test set (default 0: none)." };

    public Option<string> Keep { get; } = new("--keep") { Description = "last (model.safetensors only) or best (also best.safetensors: the evaluation with the best validation accuracy, else test accuracy).", DefaultValueFactory = _ => "last" };

    public Option<int?> EarlyStop { get; } = new("--early-stop") { Description = "Stop after N evaluations in a row without a better validation accuracy (test accuracy without --val-split); default 0: never." };

    public Option<string?> Resume { get; } = new("--resume") { Description = "Continue the run in DIR from its checkpoint.safetensors (its configuration is the checkpoint's; --accelerator may change)." };

    /// <summary>Every option, in the order help lists them.</summary>
    public IEnumerable<Option> All =>
    [
        Model, Dataset, DataDir, Channels, ImageSize, Hidden, Width, Optimizer, Lr, Momentum, WeightDecay, BatchSize, Steps, EvalEvery,
        BatchNorm, Init, Normalize, LrSchedule, Warmup, LrStepEvery, LrStepFactor, Augment, CropPadding, Dropout, LabelSmoothing, ValSplit, Keep, EarlyStop, Seed,
        Precision, Accelerator, OutDir, Force, CheckpointEvery, OnNan, Distributed, Nccl, Resume,
    ];

    /// <summary>The configuration of a new run: the model's defaults with every given option applied, checked.</summary>
    /// <exception cref="ConfigurationException">An option that does not apply, or a setting that cannot work.</exception>
    public TrainConfig ToConfig(ParseResult parse)
    {
        string modelName = parse.GetValue(Model)!;
        var defaults = TrainConfig.ForModel(modelName);
        var config = defaults with
        {
            Dataset = Choices.Parse<DatasetKind>(parse.GetValue(Dataset)!),
            DataDir = parse.GetValue(DataDir),
            Channels = parse.GetValue(Channels) ?? 0,
            ImageHeight = ParseSize(parse.GetValue(ImageSize)).Height,
            ImageWidth = ParseSize(parse.GetValue(ImageSize)).Width,
            Hidden = parse.GetResult(Hidden) is null ? defaults.Hidden : parse.GetValue(Hidden)!,
            Optimizer = parse.GetValue(Optimizer) is { } optimizerName ? Choices.Parse<GpuNet.Engine.Optim.OptimizerKind>(optimizerName) : defaults.Optimizer,
            LearningRate = parse.GetValue(Lr) ?? defaults.LearningRate,
            Momentum = parse.GetValue(Momentum) ?? defaults.Momentum,
            WeightDecay = parse.GetValue(WeightDecay) ?? defaults.WeightDecay,
            BatchSize = parse.GetValue(BatchSize) ?? defaults.BatchSize,
            Steps = parse.GetValue(Steps) ?? defaults.Steps,
            EvalEvery = parse.GetValue(EvalEvery) ?? defaults.EvalEvery,
            BatchNorm = parse.GetValue(BatchNorm),
            Width = parse.GetValue(Width) ?? defaults.Width,
            Init = parse.GetValue(Init) is { } initName ? Choices.Parse<WeightInit>(initName) : defaults.Init,
            Normalize = parse.GetValue(Normalize) is { } normalizeName ? Choices.Parse<Normalization>(normalizeName) : defaults.Normalize,
            Seed = parse.GetValue(Seed),
            Precision = Choices.Parse<GpuNet.Kernels.GemmPrecision>(parse.GetValue(Precision)!),
            Accelerator = Program.ParseAccelerator(parse.GetValue(Accelerator)),
            CheckpointEvery = parse.GetValue(CheckpointEvery) ?? parse.GetValue(EvalEvery) ?? defaults.EvalEvery,
            OnNan = Choices.Parse<NanPolicy>(parse.GetValue(OnNan)!),
            LrSchedule = parse.GetValue(LrSchedule) is { } scheduleName ? Choices.Parse<GpuNet.Engine.Optim.LearningRateKind>(scheduleName) : defaults.LrSchedule,
            WarmupSteps = parse.GetValue(Warmup) ?? defaults.WarmupSteps,
            LrStepEvery = parse.GetValue(LrStepEvery) ?? defaults.LrStepEvery,
            LrStepFactor = parse.GetValue(LrStepFactor) ?? defaults.LrStepFactor,
            Augment = ParseAugment(parse.GetValue(Augment)),
            CropPadding = parse.GetValue(CropPadding) ?? defaults.CropPadding,
            Dropout = parse.GetValue(Dropout) ?? defaults.Dropout,
            LabelSmoothing = parse.GetValue(LabelSmoothing) ?? defaults.LabelSmoothing,
            ValSplit = parse.GetValue(ValSplit) ?? defaults.ValSplit,
            Keep = Choices.Parse<KeepModel>(parse.GetValue(Keep)!),
            EarlyStop = parse.GetValue(EarlyStop) ?? defaults.EarlyStop,
        };
        if (parse.GetResult(CropPadding) is not null && !config.Augment.Contains(Augmentation.Crop))
        {
            throw new ConfigurationException("--crop-padding applies with --augment crop.");
        }

        if ((parse.GetResult(LrStepEvery) is not null || parse.GetResult(LrStepFactor) is not null) && config.LrSchedule != GpuNet.Engine.Optim.LearningRateKind.Step)
        {
            throw new ConfigurationException("--lr-step-every and --lr-step-factor apply with --lr-schedule step.");
        }

        if (config.Builtin is not (BuiltinModel.Mlp or BuiltinModel.MlpDeep or null) && parse.GetResult(Hidden) is not null)
        {
            throw new ConfigurationException("--hidden applies to mlp and mlp-deep only.");
        }

        if (config.Builtin is not (BuiltinModel.Vgg or null) && parse.GetResult(Width) is not null)
        {
            throw new ConfigurationException("--width applies to vgg and model files (it scales convolutions).");
        }

        config.Validate();
        return config;
    }

    /// <summary>--augment flip, crop or flip,crop (in any order).</summary>
    internal static Augmentation[] ParseAugment(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return [];
        }

        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var result = new List<Augmentation>();
        foreach (string part in parts)
        {
            var augmentation = Choices.Of<Augmentation>().Contains(part)
                ? Choices.Parse<Augmentation>(part)
                : throw new ConfigurationException($"--augment takes {string.Join(", ", Choices.Of<Augmentation>())} or several comma-separated; '{part}' is not one of them.");
            if (!result.Contains(augmentation))
            {
                result.Add(augmentation);
            }
        }

        return [.. result];
    }

    /// <summary>"HxW" (or "N" for N x N) as (height, width); none as (0, 0).</summary>
    private static (int Height, int Width) ParseSize(string? text)
    {
        if (text is null)
        {
            return (0, 0);
        }

        var parts = text.Split('x', 'X');
        return parts.Length is 1 or 2 && parts.All(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0)
            ? (int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[^1], CultureInfo.InvariantCulture))
            : throw new ConfigurationException($"--image-size must be HxW in pixels (e.g. 32x32), got '{text}'.");
    }

    private static int[]? ParseWidths(ArgumentResult result)
    {
        var text = string.Join(",", result.Tokens.Select(t => t.Value));
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var widths = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out widths[i]) || widths[i] < 1)
            {
                result.AddError($"--hidden takes positive integers separated by commas, got '{text}'.");
                return null;
            }
        }

        return widths;
    }
}
