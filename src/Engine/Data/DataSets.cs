using GpuNet.Kernels;

namespace GpuNet.Engine.Data;

/// <summary>The data sets GpuNet knows by name (kebab-case: fashion-mnist, mnist, cifar10).</summary>
public enum DatasetKind
{
    /// <summary>Fashion-MNIST: 28 x 28 grey clothing images, 10 classes (embedded).</summary>
    FashionMnist,

    /// <summary>MNIST: 28 x 28 grey digits, 10 classes (from --data-dir).</summary>
    Mnist,

    /// <summary>CIFAR-10: 32 x 32 colour images, 10 classes (its binary version, from --data-dir).</summary>
    Cifar10,

    /// <summary>An image folder: --data-dir DIR holding train/&lt;class&gt;/*.png|jpg|jpeg and test/&lt;class&gt;/... (see <see cref="ImageFolder"/>).</summary>
    Folder,
}

/// <summary>The data sets GpuNet knows by name, and where it finds their files.</summary>
public static class DataSets
{
    /// <summary>The names of <see cref="DatasetKind"/>'s values, as the command line and the run's files write them.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. Enum.GetValues<DatasetKind>().Select(Name)];

    private static readonly string[] FashionClasses =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    private static readonly string[] DigitClasses = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

    private static readonly string[] CifarClasses =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary><paramref name="kind"/>'s name: fashion-mnist, mnist or cifar10 (its kebab-case name, as every enum setting).</summary>
    public static string Name(DatasetKind kind) => Runs.Choices.Name(kind);

    /// <summary>The data set named <paramref name="name"/> (as <see cref="Name"/> writes it), or null.</summary>
    public static DatasetKind? Find(string? name) =>
        Enum.GetValues<DatasetKind>().Where(kind => Name(kind) == name).Select(kind => (DatasetKind?)kind).FirstOrDefault();

    /// <summary>The class names of <paramref name="kind"/>, without loading it (null for an image folder: its folders name them).</summary>
    public static IReadOnlyList<string>? ClassNames(DatasetKind kind) => kind switch
    {
        DatasetKind.FashionMnist => FashionClasses,
        DatasetKind.Mnist => DigitClasses,
        DatasetKind.Cifar10 => CifarClasses,
        _ => null,
    };

    /// <summary>
    /// The sample shape (C, H, W) of <paramref name="kind"/>, without loading it (null for an image folder: its images
    /// give it); its class count is <see cref="ClassNames"/>'s.
    /// </summary>
    public static int[]? SampleShape(DatasetKind kind) => kind switch
    {
        DatasetKind.Cifar10 => [3, 32, 32],
        DatasetKind.FashionMnist or DatasetKind.Mnist => [1, 28, 28],
        _ => null,
    };

    /// <summary>Whether the data set's images are light objects on a dark background (Fashion-MNIST, MNIST).</summary>
    public static bool LightOnDark(DatasetKind kind) => kind is DatasetKind.FashionMnist or DatasetKind.Mnist;

    /// <summary>Where the embedded Fashion-MNIST lies: data/fashion-mnist beside the program.</summary>
    public static string EmbeddedFashionMnist => Path.Combine(AppContext.BaseDirectory, "data", "fashion-mnist");

    /// <summary>
    /// Loads <paramref name="kind"/> from <paramref name="dataDir"/> (for Fashion-MNIST, the embedded copy when none is
    /// given; an image folder as <paramref name="folder"/> says). MNIST and CIFAR-10 are read only from a directory the
    /// user gives: nothing is downloaded.
    /// </summary>
    /// <exception cref="DataException">A file is missing or malformed.</exception>
    public static Dataset Load(DatasetKind kind, string? dataDir, FolderOptions? folder = null) => kind switch
    {
        DatasetKind.Folder => ImageFolder.Load(dataDir ?? throw new DataException(
            "An image folder is read from --data-dir DIR holding train/<class>/*.png|jpg|jpeg (and test/<class>/...)."), folder),
        DatasetKind.FashionMnist => LoadIdx(Name(kind), dataDir ?? EmbeddedFashionMnist, FashionClasses),
        DatasetKind.Mnist => LoadIdx(Name(kind), dataDir ?? Downloaded(kind) ?? throw new DataException(
            "MNIST is not embedded: run 'gpunet data download mnist', or pass --data-dir DIR holding train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz), t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz)."), DigitClasses),
        DatasetKind.Cifar10 => LoadCifar10(dataDir ?? Downloaded(kind) ?? throw new DataException(
            "CIFAR-10 is not embedded: run 'gpunet data download cifar10', or pass --data-dir DIR holding the binary version (data_batch_1.bin .. data_batch_5.bin, test_batch.bin).")),
        _ => throw new DataException($"Unknown data set {kind}; known: {string.Join(", ", Names)}."),
    };

    /// <summary>The folder <c>gpunet data download</c> fills for <paramref name="kind"/>, when it holds a download.</summary>
    private static string? Downloaded(DatasetKind kind) =>
        Downloads.DefaultFolder(kind) is var folder && Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any(e => !Path.GetFileName(e).StartsWith('.')) ? folder : null;

    private static Dataset LoadIdx(string name, string dir, string[] classes)
    {
        if (!Directory.Exists(dir))
        {
            throw new DataException($"{dir}: data directory not found.");
        }

        var (trainPixels, trainCount, rows, cols) = Readers.ReadIdxImages(FindFile(dir, "train-images-idx3-ubyte"));
        var trainLabels = Readers.ReadIdxLabels(FindFile(dir, "train-labels-idx1-ubyte"), classes.Length);
        var (testPixels, testCount, testRows, testCols) = Readers.ReadIdxImages(FindFile(dir, "t10k-images-idx3-ubyte"));
        var testLabels = Readers.ReadIdxLabels(FindFile(dir, "t10k-labels-idx1-ubyte"), classes.Length);
        if (trainLabels.Length != trainCount)
        {
            throw new DataException($"{dir}: {trainCount} training images but {trainLabels.Length} training labels.");
        }

        if (testLabels.Length != testCount)
        {
            throw new DataException($"{dir}: {testCount} test images but {testLabels.Length} test labels.");
        }

        if (testRows != rows || testCols != cols)
        {
            throw new DataException($"{dir}: training images are {rows} x {cols} but test images are {testRows} x {testCols}.");
        }

        if (trainCount == 0 || testCount == 0)
        {
            throw new DataException($"{dir}: the data set has {trainCount} training and {testCount} test images; both must be non-zero.");
        }

        return new Dataset(name, new Shape(1, rows, cols), classes, new DataSplit(trainPixels, trainLabels), new DataSplit(testPixels, testLabels));
    }

    private static Dataset LoadCifar10(string dir)
    {
        if (!Directory.Exists(dir))
        {
            throw new DataException($"{dir}: data directory not found.");
        }

        string root = File.Exists(Path.Combine(dir, "test_batch.bin")) || !Directory.Exists(Path.Combine(dir, "cifar-10-batches-bin"))
            ? dir
            : Path.Combine(dir, "cifar-10-batches-bin");
        var train = Readers.ReadCifar10(Enumerable.Range(1, 5).Select(i => Path.Combine(root, $"data_batch_{i}.bin")).ToArray());
        var test = Readers.ReadCifar10([Path.Combine(root, "test_batch.bin")]);
        return new Dataset(Name(DatasetKind.Cifar10), new Shape(3, 32, 32), CifarClasses, train, test);
    }

    /// <summary>The file <paramref name="stem"/> or <paramref name="stem"/>.gz in <paramref name="dir"/>.</summary>
    private static string FindFile(string dir, string stem)
    {
        string plain = Path.Combine(dir, stem), gz = plain + ".gz";
        return File.Exists(plain) ? plain : File.Exists(gz) ? gz : throw new DataException($"{gz}: file not found (nor {stem}).");
    }
}
