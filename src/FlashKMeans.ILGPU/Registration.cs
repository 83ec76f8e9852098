using System.Runtime.CompilerServices;
using FlashKMeans.Backends;
using FlashKMeans.Engine;

namespace FlashKMeans.ILGPU;

/// <summary>Registers the ILGPU backend with the engine when this assembly loads (the engine loads it for ComputeDevice.Ilgpu).</summary>
internal static class Registration
{
    // A library's module initializer is what lets the engine find this backend by loading the assembly, with no call a
    // user must remember to make; it only stores a delegate.
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "CA2255", Justification = "The plugin registration described above.")]
    [ModuleInitializer]
    internal static void Register() => ExternalBackends.Ilgpu = IlgpuBackend.Create;
}
