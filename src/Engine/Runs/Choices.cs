using System.Text.Json;
using GpuNet.Engine.Data;
using GpuNet.Engine.Layers;
using GpuNet.Engine.Models;
using GpuNet.Engine.Optim;

namespace GpuNet.Engine.Runs;

/// <summary>
/// The one source of the names a run's settings take: the models, data sets and optimizers by name, and every enum
/// setting by its kebab-case name (the name the command line, completion, validation and the run's JSON files use).
/// </summary>
public static class Choices
{
    /// <summary>The models: mlp, mlp-deep, vgg.</summary>
    public static IReadOnlyList<string> Models => BuiltinModels.Names;

    /// <summary>The data sets: fashion-mnist, mnist, cifar10.</summary>
    public static IReadOnlyList<string> Datasets => DataSets.Names;

    /// <summary>The optimizers: sgd, adam.</summary>
    public static IReadOnlyList<string> Optimizers { get; } = Of<OptimizerKind>();

    /// <summary>The kebab-case names of <typeparamref name="TEnum"/>'s values, in declaration order.</summary>
    public static IReadOnlyList<string> Of<TEnum>()
        where TEnum : struct, Enum => [.. Enum.GetValues<TEnum>().Select(Name)];

    /// <summary><paramref name="value"/>'s name: <c>LearningRateKind.Cosine</c> is "cosine", <c>WeightInit.KaimingUniform</c> "kaiming-uniform".</summary>
    public static string Name<TEnum>(TEnum value)
        where TEnum : struct, Enum => JsonNamingPolicy.KebabCaseLower.ConvertName(value.ToString());

    /// <summary>The value named <paramref name="name"/>.</summary>
    /// <exception cref="ConfigurationException">No value has that name; the message lists the names.</exception>
    public static TEnum Parse<TEnum>(string name)
        where TEnum : struct, Enum
    {
        foreach (var value in Enum.GetValues<TEnum>())
        {
            if (Name(value) == name)
            {
                return value;
            }
        }

        throw new ConfigurationException($"'{name}' is not one of {string.Join(", ", Of<TEnum>())}.");
    }

    /// <summary>The names of the weight initializations (small-normal, kaiming-uniform).</summary>
    public static IReadOnlyList<string> Inits => Of<WeightInit>();
}
