using System.Reflection;
using GpuNet.Kernels;

namespace GpuNet.Tests.Kernels;

/// <summary>
/// Every kernel entry point in GpuNet.Kernels, closed over what GpuNet launches on CUDA: the item kernel over every item
/// op, the CPU GEMM over its operand roundings, and every tiled GEMM kernel (fp32 and tensor-core tiles) over every GEMM
/// form.
/// </summary>
public static class KernelCatalog
{
    public static IReadOnlyList<MethodInfo> All() => [.. Named().Select(k => k.Method)];

    /// <summary>The kernels with the names the launch plan gives GEMMs (other kernels by their method or op name).</summary>
    public static IReadOnlyList<(string Name, MethodInfo Method)> Named()
    {
        var assembly = typeof(KernelLibrary).Assembly;
        var attribute = assembly.GetType("GpuNet.Kernels.GpuKernelAttribute", throwOnError: true)!;
        var itemOp = assembly.GetType("GpuNet.Kernels.IItemOp", throwOnError: true)!;
        var forms = (ValueTuple<Type, Type, Type>[])assembly.GetType("GpuNet.Kernels.GemmForms", throwOnError: true)!.GetField("All")!.GetValue(null)!;
        var outputs = forms.Select(f => f.Item3).Distinct().ToList();
        var methods = new List<(string, MethodInfo)>();
        var cudaGemms = (IEnumerable<(string, MethodInfo)>)assembly.GetType("GpuNet.Kernels.GemmForms", throwOnError: true)!
            .GetMethod("CudaKernels", BindingFlags.Static | BindingFlags.Public)!.Invoke(null, null)!;
        methods.AddRange(cudaGemms);
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
                    methods.Add(($"{type.Name}.{method.Name}", method));
                    continue;
                }

                var arguments = method.GetGenericArguments();
                if (arguments.Length != 1)
                {
                    continue; // the tiled GEMM kernels, closed above
                }

                var constraints = arguments[0].GetGenericParameterConstraints();
                foreach (var closing in assembly.GetTypes().Where(t => t.IsValueType && constraints.All(c => c.IsAssignableFrom(t) || (t.IsGenericTypeDefinition && t.GetInterfaces().Any(i => i == c)))))
                {
                    if (!closing.IsGenericTypeDefinition)
                    {
                        methods.Add(($"{closing.Name}", method.MakeGenericMethod(closing)));
                    }
                    else if (constraints.Contains(itemOp))
                    {
                        methods.AddRange(outputs.Select(o => ($"{closing.Name.Split('`')[0]}<{o.Name}>", method.MakeGenericMethod(closing.MakeGenericType(o)))));
                    }
                }

            }
        }

        return methods;
    }
}
