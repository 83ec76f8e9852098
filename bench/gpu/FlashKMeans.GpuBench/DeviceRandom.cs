using System.Runtime.CompilerServices;
using FlashKMeans.Cuda;
using FlashKMeans.Cuda.Native;

/// <summary>
/// Standard normal values generated on the GPU, for the benchmark's gigabytes of input without a host round trip: the
/// benchmark's own kernel (Kernels/random_fill.cu), loaded once per context from the PTX embedded in this program.
/// </summary>
internal static class DeviceRandom
{
    private static readonly ConditionalWeakTable<CudaContext, CudaFunction> Kernels = new();
    private static readonly List<CudaModule> Modules = [];

    /// <summary>Enqueues <paramref name="count"/> N(0, 1) floats at <paramref name="output"/>, determined by <paramref name="seed"/>.</summary>
    public static void FillNormal(this CudaSession session, ulong output, long count, ulong seed)
    {
        var context = session.Context;
        var kernel = Kernels.GetValue(context, c =>
        {
            using var stream = typeof(DeviceRandom).Assembly.GetManifestResourceStream("GpuBench.random_fill.sm70.ptx")
                ?? throw new InvalidOperationException("The benchmark's random_fill PTX is not embedded.");
            var ptx = new byte[stream.Length];
            stream.ReadExactly(ptx);
            // The module lives as long as the process (the benchmark fills data until it exits): it is kept referenced,
            // since a collected module would be unloaded under the function.
            var module = CudaModule.Load(c, ptx, "random_fill");
            lock (Modules)
                Modules.Add(module);
            return module.GetFunction("fill_normal_f32");
        });
        long grid = Math.Min((count + 255) / 256, (long)context.MultiprocessorCount * 16);
        kernel.Launch(session.Stream, (grid, 1, 1), 256, 0, new KernelArgs().Add(output).Add(count).Add(seed));
    }
}
