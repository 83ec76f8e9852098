namespace FlashKMeans;

/// <summary>Where the distance and update work runs.</summary>
public enum ComputeDevice
{
    /// <summary>A CUDA GPU when the driver loads and a device exists, otherwise the CPU.</summary>
    Auto,

    /// <summary>The SIMD, multi-threaded CPU backend.</summary>
    Cpu,

    /// <summary>An NVIDIA GPU through the CUDA driver; an error where none is usable.</summary>
    Cuda,
}
