using System.Reflection;

namespace GpuNet.Kernels;

/// <summary>
/// Every kernel entry point in GpuNet.Kernels, closed over what GpuNet launches on CUDA: every tiled GEMM kernel (fp32
/// and tensor-core tiles) over every GEMM form, the item kernel over every item op, the CPU GEMM over its operand
/// roundings, and every other kernel marked <see cref="GpuKernelAttribute"/>. The PTX tests compile all of them and
/// the benchmarks' <c>--ptx</c> writes their PTX.
/// </summary>
internal static class KernelCatalog
{
    /// <summary>
    /// The kernels, each with a unique name: a GEMM kernel by the name the launch plan gives it ("Gemm128",
    /// "GemmTf32_128x64", "ConvForwardTf32_64x64", ...), a non-generic kernel as "Class.Method", a kernel closed over an
    /// op or operand type by that type's name ("ReluForwardOp", "Tf32Operands"), and one closed over a generic op by the
    /// op and its output ("BiasAddOp&lt;MatrixOut&gt;").
    /// </summary>
    public static IReadOnlyList<(string Name, MethodInfo Method)> Named()
    {
        var assembly = typeof(KernelCatalog).Assembly;
        var outputs = GemmForms.All.Select(f => f.Out).Distinct().ToList();
        var kernels = new List<(string, MethodInfo)>(GemmForms.CudaKernels());
        foreach (var type in assembly.GetTypes())
        {
            foreach (var method in type.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                if (method.GetCustomAttribute<GpuKernelAttribute>() is null)
                {
                    continue;
                }

                if (!method.IsGenericMethodDefinition)
                {
                    kernels.Add(($"{type.Name}.{method.Name}", method));
                    continue;
                }

                var arguments = method.GetGenericArguments();
                if (arguments.Length != 1)
                {
                    continue; // the tiled GEMM kernels, closed by GemmForms above
                }

                var constraints = arguments[0].GetGenericParameterConstraints();
                bool Satisfies(Type t) =>
                    t.IsValueType && constraints.All(c => c.IsAssignableFrom(t) || (t.IsGenericTypeDefinition && t.GetInterfaces().Any(i => i == c)));
                foreach (var closing in assembly.GetTypes().Where(Satisfies))
                {
                    if (!closing.IsGenericTypeDefinition)
                    {
                        kernels.Add((closing.Name, method.MakeGenericMethod(closing)));
                    }
                    else if (constraints.Contains(typeof(IItemOp)))
                    {
                        kernels.AddRange(outputs.Select(o => ($"{closing.Name.Split('`')[0]}<{o.Name}>", method.MakeGenericMethod(closing.MakeGenericType(o)))));
                    }
                }
            }
        }

        return kernels;
    }
}
