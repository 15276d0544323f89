using System.Reflection;
using GpuNet.Kernels;

namespace GpuNet.Tests.Kernels;

/// <summary>Every kernel entry point in GpuNet.Kernels, the generic item kernel closed over every item op.</summary>
public static class KernelCatalog
{
    public static IReadOnlyList<MethodInfo> All()
    {
        var assembly = typeof(KernelLibrary).Assembly;
        var attribute = assembly.GetType("GpuNet.Kernels.GpuKernelAttribute", throwOnError: true)!;
        var itemOp = assembly.GetType("GpuNet.Kernels.IItemOp", throwOnError: true)!;
        var methods = new List<MethodInfo>();
        foreach (var type in assembly.GetTypes())
        {
            foreach (var method in type.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                if (method.GetCustomAttribute(attribute) is null)
                {
                    continue;
                }

                if (method.IsGenericMethodDefinition)
                {
                    methods.AddRange(assembly.GetTypes()
                        .Where(t => t.IsValueType && itemOp.IsAssignableFrom(t))
                        .Select(t => method.MakeGenericMethod(t)));
                }
                else
                {
                    methods.Add(method);
                }
            }
        }

        return methods;
    }
}
