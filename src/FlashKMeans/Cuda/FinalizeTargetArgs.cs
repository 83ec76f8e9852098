using System.Runtime.InteropServices;
using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Cuda;

/// <summary>
/// centroid_update.cu's <c>FinalizeTarget</c>, field for field: the last argument of every finalize_* kernel, passed by
/// value (<see cref="KernelArgs.AddStruct{T}"/>). <see cref="FinalizeTargets.ToArgs"/> fills it. The offsets are the CUDA
/// compiler's for that struct; a test reads them, and its size, from the PTX the kernels ship in.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 112)]
internal struct FinalizeTargetArgs
{
    [FieldOffset(0)] public DevicePtr<float> Centroids;
    [FieldOffset(8)] public DevicePtr<float> Shift;
    [FieldOffset(16)] public DevicePtr<double> WeightOut;
    [FieldOffset(24)] public DevicePtr<byte> Packed;
    [FieldOffset(32)] public DevicePtr<float> Norms;
    [FieldOffset(40)] public DevicePtr<double> Partials;
    [FieldOffset(48)] public DevicePtr<double> Inertia;
    [FieldOffset(56)] public DevicePtr<byte> Tiles;
    [FieldOffset(64)] public DevicePtr<float> Before;
    [FieldOffset(72)] public int Clusters;
    [FieldOffset(76)] public int D;
    [FieldOffset(80)] public int Normalize;
    [FieldOffset(84)] public int PackedPitch;
    [FieldOffset(88)] public int Pack;
    [FieldOffset(92)] public int Chunks;
    [FieldOffset(96)] public int Problems;
    [FieldOffset(100)] public int TileK;
    [FieldOffset(104)] public int TileChunks;
}
