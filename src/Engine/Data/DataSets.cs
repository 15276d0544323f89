using GpuNet.Kernels;

namespace GpuNet.Engine.Data;

/// <summary>The data sets GpuNet knows by name, and where it finds their files.</summary>
public static class DataSets
{
    /// <summary>The names accepted by <see cref="Load"/>.</summary>
    public static readonly IReadOnlyList<string> Names = ["fashion-mnist", "mnist", "cifar10"];

    private static readonly string[] FashionClasses =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    private static readonly string[] DigitClasses = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

    private static readonly string[] CifarClasses =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>The class names of data set <paramref name="name"/>, without loading it (null for an unknown name).</summary>
    public static IReadOnlyList<string>? ClassNames(string name) => name switch
    {
        "fashion-mnist" => FashionClasses,
        "mnist" => DigitClasses,
        "cifar10" => CifarClasses,
        _ => null,
    };

    /// <summary>
    /// The sample shape (C, H, W) of data set <paramref name="name"/>, without loading it (null for an unknown name); its
    /// class count is <see cref="ClassNames"/>'s.
    /// </summary>
    public static int[]? SampleShape(string name) => name switch
    {
        "fashion-mnist" or "mnist" => [1, 28, 28],
        "cifar10" => [3, 32, 32],
        _ => null,
    };

    /// <summary>Whether the data set's images are light objects on a dark background (Fashion-MNIST, MNIST).</summary>
    public static bool LightOnDark(string name) => name is "fashion-mnist" or "mnist";

    /// <summary>Where the embedded Fashion-MNIST lies: data/fashion-mnist beside the program.</summary>
    public static string EmbeddedFashionMnist => Path.Combine(AppContext.BaseDirectory, "data", "fashion-mnist");

    /// <summary>
    /// Loads data set <paramref name="name"/> from <paramref name="dataDir"/> (for fashion-mnist, the embedded copy
    /// when none is given). MNIST and CIFAR-10 are read only from a directory the user gives: nothing is downloaded.
    /// </summary>
    /// <exception cref="DataException">A file is missing or malformed.</exception>
    public static Dataset Load(string name, string? dataDir)
    {
        switch (name)
        {
            case "fashion-mnist":
                return LoadIdx(name, dataDir ?? EmbeddedFashionMnist, FashionClasses);
            case "mnist":
                return LoadIdx(name, dataDir ?? throw new DataException(
                    "MNIST is not embedded: pass --data-dir DIR holding train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz), t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz)."), DigitClasses);
            case "cifar10":
                return LoadCifar10(dataDir ?? throw new DataException(
                    "CIFAR-10 is not embedded: pass --data-dir DIR holding the binary version (data_batch_1.bin .. data_batch_5.bin, test_batch.bin)."));
            default:
                throw new DataException($"Unknown data set '{name}'; known: {string.Join(", ", Names)}.");
        }
    }

    private static Dataset LoadIdx(string name, string dir, string[] classes)
    {
        if (!Directory.Exists(dir))
        {
            throw new DataException($"{dir}: data directory not found.");
        }

        var (trainPixels, trainCount, rows, cols) = Readers.ReadIdxImages(Find(dir, "train-images-idx3-ubyte"));
        var trainLabels = Readers.ReadIdxLabels(Find(dir, "train-labels-idx1-ubyte"), classes.Length);
        var (testPixels, testCount, testRows, testCols) = Readers.ReadIdxImages(Find(dir, "t10k-images-idx3-ubyte"));
        var testLabels = Readers.ReadIdxLabels(Find(dir, "t10k-labels-idx1-ubyte"), classes.Length);
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
        return new Dataset("cifar10", new Shape(3, 32, 32), CifarClasses, train, test);
    }

    /// <summary>The file <paramref name="stem"/> or <paramref name="stem"/>.gz in <paramref name="dir"/>.</summary>
    private static string Find(string dir, string stem)
    {
        string plain = Path.Combine(dir, stem), gz = plain + ".gz";
        return File.Exists(plain) ? plain : File.Exists(gz) ? gz : throw new DataException($"{gz}: file not found (nor {stem}).");
    }
}
