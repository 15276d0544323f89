global using Xunit;
global using GpuNet.Engine.Runs;
