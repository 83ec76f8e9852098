using System.Reflection;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FlashKMeans.Tool;

/// <summary>What <c>info</c> reports about the build and the processor.</summary>
internal static class Versions
{
    /// <summary>The informational version of <paramref name="type"/>'s assembly (the package version).</summary>
    public static string Of(Type type) =>
        type.Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? type.Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>The widest vector instructions the CPU backend can use here.</summary>
    public static string Simd() =>
        Vector512.IsHardwareAccelerated && Avx512F.IsSupported ? "AVX-512 (16 floats a vector)"
        : Avx2.IsSupported && Fma.IsSupported ? "AVX2 with FMA (8 floats a vector)"
        : Vector128.IsHardwareAccelerated ? "128-bit vectors (4 floats)"
        : "none";
}
