using System.Text.Json;
using GpuNet.Engine.Data;
using GpuNet.Engine.Distributed;
using GpuNet.Engine.Models;
using GpuNet.Engine.Optim;

namespace GpuNet.Tests.Engine;

/// <summary>Models, data sets, optimizers and communication are types; their names are what the command line and run files use.</summary>
public sealed class SettingNamesTests
{
    [Fact]
    public void EveryKindRoundTripsThroughItsName()
    {
        Assert.Equal(["fashion-mnist", "mnist", "cifar10", "folder"], DataSets.Names);
        Assert.Equal(["mlp", "mlp-deep", "vgg"], BuiltinModels.Names);
        Assert.Equal(["none", "mpi", "nccl"], Choices.Of<Communication>());
        foreach (var kind in Enum.GetValues<DatasetKind>())
        {
            Assert.Equal(kind, DataSets.Find(DataSets.Name(kind)));
        }

        foreach (var model in Enum.GetValues<BuiltinModel>())
        {
            Assert.Equal(model, BuiltinModels.Find(BuiltinModels.Name(model)));
            Assert.Equal(model, TrainConfig.DefaultsFor(model).Builtin);
        }

        Assert.Null(DataSets.Find("cifar-10"));
        Assert.Null(BuiltinModels.Find("resnet9"));
    }

    [Fact]
    public void RunFilesKeepTheNamesOlderCheckpointsHold()
    {
        var config = TrainConfig.DefaultsFor(BuiltinModel.MlpDeep) with { Dataset = DatasetKind.Cifar10 };
        var json = JsonSerializer.SerializeToElement(config, RunJson.Options);
        Assert.Equal("cifar10", json.GetProperty("dataset").GetString());
        Assert.Equal("adam", json.GetProperty("optimizer").GetString());
        Assert.Equal("mlp-deep", json.GetProperty("model").GetString());

        var back = JsonSerializer.Deserialize<TrainConfig>("""{"model": "vgg", "dataset": "fashion-mnist", "optimizer": "sgd"}""", RunJson.Options)!;
        Assert.Equal((BuiltinModel.Vgg, DatasetKind.FashionMnist, OptimizerKind.Sgd), (back.Builtin, back.Dataset, back.Optimizer));
        Assert.ThrowsAny<JsonException>(() => JsonSerializer.Deserialize<TrainConfig>("""{"dataset": "imagenet"}""", RunJson.Options));

        // A model file's configuration trains its own network, even when its name is a built-in's.
        var file = TrainConfig.DefaultsFor(BuiltinModels.Shipped(BuiltinModel.Vgg));
        Assert.Equal("vgg", file.Model);
        Assert.Null(file.Builtin);
        file.Validate();
    }
}
