using GpuNet.Engine.Data;
using GpuNet.Engine.Layers;
using GpuNet.Engine.Models;
using GpuNet.Engine.Optim;
using GpuNet.Kernels;

namespace GpuNet.Engine.Runs;

/// <summary>What a non-finite loss or gradient does.</summary>
public enum NanPolicy
{
    /// <summary>Stop the run with a message naming the step and the layer, keeping the last good checkpoint.</summary>
    Stop,

    /// <summary>Discard the step's gradients and go on.</summary>
    Skip,
}

/// <summary>A random transformation applied to each training image inside the batch gather.</summary>
public enum Augmentation
{
    /// <summary>Mirror left to right with probability 0.5.</summary>
    Flip,

    /// <summary>Zero-pad by <see cref="TrainConfig.CropPadding"/> pixels, then crop back to the input size at a random offset.</summary>
    Crop,
}

/// <summary>Which weights a run keeps besides its last ones.</summary>
public enum KeepModel
{
    /// <summary>Only the last weights (model.safetensors).</summary>
    Last,

    /// <summary>Also best.safetensors: the weights of the evaluation with the highest validation accuracy (test accuracy without a validation split).</summary>
    Best,
}

/// <summary>A training run's full configuration, every default resolved.</summary>
public sealed record TrainConfig
{
    /// <summary>mlp, mlp-deep or vgg; for a model file, its name.</summary>
    public string Model { get; init; } = BuiltinModels.Name(BuiltinModel.Mlp);

    /// <summary>The built-in model this configuration trains; null for a model file's network (or an unknown name).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public BuiltinModel? Builtin => Network is null ? BuiltinModels.Find(Model) : null;

    /// <summary>A model file's network (null: the built-in <see cref="Model"/>); stored whole, so a resume needs no file.</summary>
    [System.Text.Json.Serialization.JsonConverter(typeof(ModelDefinitionJson))]
    public ModelDefinition? Network { get; init; }

    /// <summary>The data set: fashion-mnist, mnist or cifar10.</summary>
    public DatasetKind Dataset { get; init; } = DatasetKind.FashionMnist;

    /// <summary>Where the data set's files are (null: the embedded Fashion-MNIST).</summary>
    public string? DataDir { get; init; }

    /// <summary>An image folder's channel count, 1 or 3 (0: the first image's).</summary>
    public int Channels { get; init; }

    /// <summary>An image folder's image height (0: the first image's; then every image must have its size).</summary>
    public int ImageHeight { get; init; }

    /// <summary>An image folder's image width (0 with <see cref="ImageHeight"/>).</summary>
    public int ImageWidth { get; init; }

    /// <summary>How an image folder is read, with <paramref name="progress"/> called while its images are decoded.</summary>
    public FolderOptions Folder(Action<int, int>? progress = null) => new(Channels, ImageHeight, ImageWidth, progress);

    /// <summary>An MLP's hidden layer widths.</summary>
    public int[] Hidden { get; init; } = [100];

    /// <summary>Whether an MLP has BatchNorm after each hidden Linear.</summary>
    public bool BatchNorm { get; init; }

    /// <summary>How Linear and Conv2d weights are initialized.</summary>
    public WeightInit Init { get; init; } = WeightInit.SmallNormal;

    /// <summary>The channel multiplier of every convolution (the VGG's, or a model file's).</summary>
    public double Width { get; init; } = 1.0;

    /// <summary>sgd or adam.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Sgd;

    /// <summary>The learning rate.</summary>
    public double LearningRate { get; init; } = 2e-3;

    /// <summary>SGD momentum.</summary>
    public double Momentum { get; init; }

    /// <summary>L2 weight decay, added to the gradient.</summary>
    public double WeightDecay { get; init; }

    /// <summary>How the learning rate changes over the run.</summary>
    public LearningRateKind LrSchedule { get; init; } = LearningRateKind.Constant;

    /// <summary>Steps of linear warm-up from 0 (0: none).</summary>
    public int WarmupSteps { get; init; }

    /// <summary>For the step schedule: steps between decays.</summary>
    public int LrStepEvery { get; init; } = 1000;

    /// <summary>For the step schedule: the factor of each decay.</summary>
    public double LrStepFactor { get; init; } = 0.1;

    /// <summary>Random transformations of the training images (none by default; never at evaluation).</summary>
    public Augmentation[] Augment { get; init; } = [];

    /// <summary>The zero padding of <see cref="Augmentation.Crop"/>: 2 or 4 pixels.</summary>
    public int CropPadding { get; init; } = 4;

    /// <summary>MLPs: the probability of zeroing a hidden activation in training (inverted dropout; 0: none).</summary>
    public double Dropout { get; init; }

    /// <summary>The label smoothing of the training loss (PyTorch's CrossEntropyLoss(label_smoothing)); the test loss is plain.</summary>
    public double LabelSmoothing { get; init; }

    /// <summary>The share of the training set held out for validation by a fixed draw (0: none).</summary>
    public double ValSplit { get; init; }

    /// <summary>Whether best.safetensors keeps the best evaluation's weights.</summary>
    public KeepModel Keep { get; init; } = KeepModel.Last;

    /// <summary>Stop after this many evaluations in a row without a better accuracy (validation, else test; 0: never).</summary>
    public int EarlyStop { get; init; }

    /// <summary>Training batch size (also the evaluation batch).</summary>
    public int BatchSize { get; init; } = 200;

    /// <summary>Training steps.</summary>
    public int Steps { get; init; } = 1500;

    /// <summary>Evaluate on the whole test set every this many steps (and at the end).</summary>
    public int EvalEvery { get; init; } = 100;

    /// <summary>Write a checkpoint every N steps (0: only at the end and on an interrupt).</summary>
    public int CheckpointEvery { get; init; }

    /// <summary>What a non-finite loss or gradient does: stop the run, or skip the step.</summary>
    public NanPolicy OnNan { get; init; } = NanPolicy.Stop;

    /// <summary>
    /// The pixel preprocessing: the reference's mean-image subtraction for the MLPs (their small-normal init needs the
    /// 0..255 scale), per-channel standardization for the VGG (BatchNorm makes the scale irrelevant there).
    /// </summary>
    public Normalization Normalize { get; init; } = Normalization.None;

    /// <summary>Seed of the initialization (and, plus one, of the data order).</summary>
    public int Seed { get; init; } = 42;

    /// <summary>
    /// The arithmetic of every GEMM (linear layers and convolutions, forward and backward): fp32, or tf32 (each operand
    /// rounded to TF32 as tensor cores round it, fp32 sums: tensor cores on CUDA, the same numerics elsewhere).
    /// </summary>
    public GemmPrecision Precision { get; init; } = GemmPrecision.Fp32;

    /// <summary>Where to run.</summary>
    public AcceleratorKind Accelerator { get; init; } = AcceleratorKind.Auto;

    /// <summary>
    /// The reference assignment's defaults for <paramref name="model"/>: mlp, 784-100-10 with SGD at 2e-3, batch 200,
    /// 1500 steps and N(0, 1e-4^2) weights; mlp-deep, 512-512-256-128-64 with Adam at 2e-4, batch 400, 4000 steps;
    /// vgg, the VGG-style ConvNet with Adam at 1e-4, batch 32, 5000 steps, evaluated every 500.
    /// </summary>
    public static TrainConfig DefaultsFor(BuiltinModel model) => model switch
    {
        BuiltinModel.Mlp => new TrainConfig(),
        BuiltinModel.MlpDeep => new TrainConfig
        {
            Model = BuiltinModels.Name(model),
            Hidden = [512, 512, 256, 128, 64],
            Init = WeightInit.KaimingUniform,
            Optimizer = OptimizerKind.Adam,
            LearningRate = 2e-4,
            BatchSize = 400,
            Steps = 4000,
        },
        BuiltinModel.Vgg => new TrainConfig
        {
            Model = BuiltinModels.Name(model),
            Hidden = [],
            Init = WeightInit.KaimingUniform,
            Optimizer = OptimizerKind.Adam,
            LearningRate = 1e-4,
            BatchSize = 32,
            Steps = 5000,
            EvalEvery = 500,
            Normalize = Normalization.Standard,
        },
        _ => throw new ArgumentOutOfRangeException(nameof(model), model, "not a built-in model"),
    };

    /// <summary>
    /// The defaults for <paramref name="model"/>: a built-in model's name (see <see cref="DefaultsFor(BuiltinModel)"/>) or the
    /// path of a model file (see <see cref="DefaultsFor(ModelDefinition)"/>), which is read and parsed here.
    /// </summary>
    public static TrainConfig ForModel(string model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return BuiltinModels.Find(model) is { } builtin ? DefaultsFor(builtin)
            : model.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || File.Exists(model) ? DefaultsFor(ModelDefinition.Load(model))
            : throw new ConfigurationException($"Unknown model '{model}'; known: {string.Join(", ", Choices.Models)}, or a model file (NAME.json).");
    }

    /// <summary>
    /// The defaults for a model file's <paramref name="network"/>: Adam at 1e-3, batch 64, 1000 steps evaluated every
    /// 100, Kaiming-uniform weights unless the file names an init, per-channel standardization.
    /// </summary>
    public static TrainConfig DefaultsFor(ModelDefinition network)
    {
        ArgumentNullException.ThrowIfNull(network);
        return new TrainConfig
        {
            Model = network.Name,
            Network = network,
            Hidden = [],
            Init = network.Init ?? WeightInit.KaimingUniform,
            Optimizer = OptimizerKind.Adam,
            LearningRate = 1e-3,
            BatchSize = 64,
            Steps = 1000,
            Normalize = Normalization.Standard,
        };
    }

    /// <summary>Throws a <see cref="ConfigurationException"/> naming the first setting that cannot work.</summary>
    public void Validate()
    {
        if (Network is null && Builtin is null)
        {
            throw new ConfigurationException($"Unknown model '{Model}'; known: {string.Join(", ", Choices.Models)}.");
        }

        if (!Enum.IsDefined(Dataset))
        {
            throw new ConfigurationException($"Unknown data set '{Dataset}'; known: {string.Join(", ", Choices.Datasets)}.");
        }

        if (Dataset != DatasetKind.Folder && (Channels != 0 || ImageHeight != 0 || ImageWidth != 0))
        {
            throw new ConfigurationException("--channels and --image-size apply to --dataset folder.");
        }

        if (Channels is not (0 or 1 or 3) || ImageHeight < 0 || ImageWidth < 0 || (ImageHeight == 0) != (ImageWidth == 0) || ImageHeight > Readers.MaxSide || ImageWidth > Readers.MaxSide)
        {
            throw new ConfigurationException($"--channels must be 1 or 3 and --image-size HxW between 1x1 and {Readers.MaxSide}x{Readers.MaxSide}, got {Channels} and {ImageHeight}x{ImageWidth}.");
        }

        if (Dataset == DatasetKind.Folder && DataDir is null)
        {
            throw new ConfigurationException("--dataset folder needs --data-dir DIR holding train/<class>/*.png|jpg|jpeg (and test/<class>/...).");
        }

        if (!Enum.IsDefined(Precision))
        {
            throw new ConfigurationException($"Unknown precision '{Precision}'; known: {string.Join(", ", Choices.Of<GemmPrecision>())}.");
        }

        if (!Enum.IsDefined(Optimizer))
        {
            throw new ConfigurationException($"Unknown optimizer '{Optimizer}'; known: {string.Join(", ", Choices.Optimizers)}.");
        }

        if (!(LearningRate > 0) || double.IsInfinity(LearningRate))
        {
            throw new ConfigurationException($"--lr must be a positive number, got {LearningRate}.");
        }

        if (!(Momentum >= 0 && Momentum < 1))
        {
            throw new ConfigurationException($"--momentum must be in [0, 1), got {Momentum}.");
        }

        if (Momentum != 0 && Optimizer == OptimizerKind.Adam)
        {
            throw new ConfigurationException("--momentum applies to sgd only; Adam has its own moments.");
        }

        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay))
        {
            throw new ConfigurationException($"--weight-decay must be zero or positive, got {WeightDecay}.");
        }

        if (CheckpointEvery < 0)
        {
            throw new ConfigurationException($"--checkpoint-every must be zero or positive, got {CheckpointEvery}.");
        }

        if (BatchSize < 1 || Steps < 1 || EvalEvery < 1)
        {
            throw new ConfigurationException($"--batch-size, --steps and --eval-every must be at least 1, got {BatchSize}, {Steps} and {EvalEvery}.");
        }

        if (Hidden.Any(h => h < 1))
        {
            throw new ConfigurationException($"--hidden widths must be at least 1, got {string.Join(",", Hidden)}.");
        }

        if (!(Width > 0) || double.IsInfinity(Width))
        {
            throw new ConfigurationException($"--width must be a positive number, got {Width}.");
        }

        if (Network is not null && (BatchNorm || Dropout > 0 || Hidden.Length > 0))
        {
            throw new ConfigurationException("--hidden, --batch-norm and --dropout shape the built-in MLPs; a model file gives its own layers.");
        }

        if (BatchNorm && Builtin == BuiltinModel.Vgg)
        {
            throw new ConfigurationException("--batch-norm applies to mlp and mlp-deep; the vgg always has BatchNorm after each convolution.");
        }

        if (WarmupSteps < 0 || LrStepEvery < 1 || !(LrStepFactor > 0) || double.IsInfinity(LrStepFactor))
        {
            throw new ConfigurationException($"--warmup-steps must be zero or positive, --lr-step-every at least 1 and --lr-step-factor positive, got {WarmupSteps}, {LrStepEvery} and {LrStepFactor}.");
        }

        if (CropPadding is not (2 or 4))
        {
            throw new ConfigurationException($"--crop-padding must be 2 or 4, got {CropPadding}.");
        }

        if (Augment.Distinct().Count() != Augment.Length)
        {
            throw new ConfigurationException($"--augment names a transformation twice: {string.Join(",", Augment)}.");
        }

        if (!(Dropout >= 0 && Dropout < 1))
        {
            throw new ConfigurationException($"--dropout must be in [0, 1), got {Dropout}.");
        }

        if (Dropout > 0 && Builtin == BuiltinModel.Vgg)
        {
            throw new ConfigurationException("--dropout applies to mlp and mlp-deep (between the hidden layers).");
        }

        if (!(ValSplit >= 0 && ValSplit < 1))
        {
            throw new ConfigurationException($"--val-split must be in [0, 1), got {ValSplit}.");
        }

        if (EarlyStop < 0)
        {
            throw new ConfigurationException($"--early-stop must be zero or positive, got {EarlyStop}.");
        }

        if (!(LabelSmoothing >= 0 && LabelSmoothing < 1))
        {
            throw new ConfigurationException($"--label-smoothing must be in [0, 1), got {LabelSmoothing}.");
        }

        if (HasBatchNorm && BatchSize < 2)
        {
            throw new ConfigurationException("--batch-norm needs --batch-size of at least 2 (batch statistics of one sample are undefined).");
        }
    }

    /// <summary>Whether the model has BatchNorm (its batch statistics need at least 2 samples per rank).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool HasBatchNorm => BatchNorm || Builtin == BuiltinModel.Vgg || (Network?.Contains(LayerKind.BatchNorm) ?? false);

    /// <summary>
    /// Throws a <see cref="ConfigurationException"/> when the global batch cannot be shared by <paramref name="ranks"/>
    /// data-parallel ranks: it must divide, and a model with BatchNorm needs at least 2 images on each rank. Every rank
    /// reaches the same verdict, before anything is allocated or exchanged.
    /// </summary>
    public void CheckRanks(int ranks)
    {
        if (BatchSize % ranks != 0)
        {
            throw new ConfigurationException($"--batch-size {BatchSize} is the global batch and must divide by the {ranks} ranks.");
        }

        if (HasBatchNorm && BatchSize / ranks < 2)
        {
            throw new ConfigurationException(
                $"BatchNorm needs at least 2 images per rank, but --batch-size {BatchSize} over {ranks} ranks gives {BatchSize / ranks}; use --batch-size {2 * ranks} or more (batch statistics of one sample are undefined).");
        }
    }

    /// <summary>
    /// The architecture this configuration trains, for data of <paramref name="inputShape"/> and
    /// <paramref name="classes"/>: the model file's network or the built-in model, initialized by <see cref="Init"/>,
    /// every layer's shape checked.
    /// </summary>
    /// <exception cref="ConfigurationException">A layer cannot take its input; the message names it.</exception>
    public ModelSpec Architecture(int[] inputShape, int classes)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        var definition = Network is { } network
            ? network.Scaled(Width) with { Init = Init }
            : BuiltinModels.Generate(Builtin ?? throw new ConfigurationException($"Unknown model '{Model}'; known: {string.Join(", ", Choices.Models)}."), Hidden, BatchNorm, Init, Width, Dropout);
        definition.Check(new Shape(inputShape), classes, Network is null ? Model : $"model '{Model}'");
        return new ModelSpec(definition, inputShape, classes);
    }

    /// <summary>The learning rate of every step.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public LearningRateSchedule Schedule => new(LrSchedule, LearningRate, Steps, WarmupSteps, LrStepEvery, LrStepFactor);
}

/// <summary>Writes a <see cref="ModelDefinition"/> as its model file's JSON object, and reads it back.</summary>
internal sealed class ModelDefinitionJson : System.Text.Json.Serialization.JsonConverter<ModelDefinition>
{
    public override ModelDefinition Read(ref System.Text.Json.Utf8JsonReader reader, Type typeToConvert, System.Text.Json.JsonSerializerOptions options)
    {
        using var document = System.Text.Json.JsonDocument.ParseValue(ref reader);
        return ModelDefinition.Parse(document.RootElement.GetRawText(), "the configuration's network");
    }

    public override void Write(System.Text.Json.Utf8JsonWriter writer, ModelDefinition value, System.Text.Json.JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(value);
        writer.WriteRawValue(value.ToJson());
    }
}
