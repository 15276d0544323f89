global using GpuNet.Engine.Runs;
global using Xunit;
