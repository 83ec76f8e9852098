using System.Reflection;
using FlashKMeans.Backends;

namespace FlashKMeans.Engine;

/// <summary>
/// Backends that live in their own packages, so that the engine needs none of their dependencies. A package registers
/// its factory when its assembly loads (a module initializer); the engine loads the assembly by name when a fit asks for
/// its device, so referencing the package is all a user does.
/// </summary>
internal static class ExternalBackends
{
    private const string IlgpuAssembly = "FlashKMeans.ILGPU";

    /// <summary>
    /// FlashKMeans.ILGPU's factory: the options and whether only a GPU accelerator will do; <c>null</c> and the reason
    /// where none suits.
    /// </summary>
    internal static Func<KMeansOptions, bool, (IKMeansBackend? Backend, string Reason)>? Ilgpu { get; set; }

    // Whether loading the assembly failed once, and why no GPU accelerator suited: Auto asks on every fit, and neither
    // answer changes in a process (ILGPU enumerates its devices in a fresh context each time).
    private static volatile bool s_ilgpuMissing;
    private static volatile string? s_noIlgpuGpu;

    /// <summary>Creates the ILGPU backend; false, with the reason, where the package is absent or no accelerator suits.</summary>
    public static bool TryCreateIlgpu(KMeansOptions options, bool gpuOnly, out IKMeansBackend? backend, out string reason)
    {
        backend = null;
        if (Ilgpu is null && s_ilgpuMissing)
        {
            reason = $"the {IlgpuAssembly} package is not referenced";
            return false;
        }
        if (Ilgpu is null)
        {
            try
            {
                System.Runtime.CompilerServices.RuntimeHelpers.RunModuleConstructor(Assembly.Load(IlgpuAssembly).ManifestModule.ModuleHandle);
            }
            catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException)
            {
                s_ilgpuMissing = true;
                reason = $"the {IlgpuAssembly} package is not referenced";
                return false;
            }
        }
        if (Ilgpu is not { } create)
        {
            reason = $"{IlgpuAssembly} did not register its backend";
            return false;
        }
        if (gpuOnly && s_noIlgpuGpu is { } known)
        {
            reason = known;
            return false;
        }
        (backend, reason) = create(options, gpuOnly);
        if (gpuOnly && backend is null)
            s_noIlgpuGpu = reason;
        return backend is not null;
    }
}
