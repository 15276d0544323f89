using System.Reflection;
using GpuNet.Kernels;

namespace GpuNet.Tests.Kernels;

/// <summary>
/// Every kernel entry point in GpuNet.Kernels, closed over what GpuNet launches: the item kernel over every item op (a
/// generic op over every GEMM output), the tiled GEMM kernels over every GEMM form and its split-K partial output.
/// </summary>
public static class KernelCatalog
{
    public static IReadOnlyList<MethodInfo> All()
    {
        var assembly = typeof(KernelLibrary).Assembly;
        var attribute = assembly.GetType("GpuNet.Kernels.GpuKernelAttribute", throwOnError: true)!;
        var itemOp = assembly.GetType("GpuNet.Kernels.IItemOp", throwOnError: true)!;
        var forms = (ValueTuple<Type, Type, Type>[])assembly.GetType("GpuNet.Kernels.GemmForms", throwOnError: true)!.GetField("All")!.GetValue(null)!;
        var partial = assembly.GetType("GpuNet.Kernels.PartialOut", throwOnError: true)!;
        var outputs = forms.Select(f => f.Item3).Distinct().ToList();
        var methods = new List<MethodInfo>();
        foreach (var type in assembly.GetTypes())
        {
            foreach (var method in type.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                if (method.GetCustomAttribute(attribute) is null)
                {
                    continue;
                }

                if (!method.IsGenericMethodDefinition)
                {
                    methods.Add(method);
                }
                else if (method.GetGenericArguments().Length == 3)
                {
                    foreach (var (a, b, output) in forms)
                    {
                        methods.Add(method.MakeGenericMethod(a, b, output));
                        methods.Add(method.MakeGenericMethod(a, b, partial));
                    }
                }
                else
                {
                    foreach (var op in assembly.GetTypes().Where(t => t.IsValueType && itemOp.IsAssignableFrom(t)))
                    {
                        if (!op.IsGenericTypeDefinition)
                        {
                            methods.Add(method.MakeGenericMethod(op));
                        }
                        else
                        {
                            methods.AddRange(outputs.Select(o => method.MakeGenericMethod(op.MakeGenericType(o))));
                        }
                    }
                }
            }
        }

        return methods;
    }
}
