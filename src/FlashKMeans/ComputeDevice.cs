namespace FlashKMeans;

/// <summary>Where the distance and update work runs.</summary>
public enum ComputeDevice
{
    /// <summary>
    /// A CUDA GPU when the driver loads and a device exists, else an ILGPU GPU accelerator where the FlashKMeans.ILGPU
    /// package is referenced, otherwise the CPU.
    /// </summary>
    Auto,

    /// <summary>The SIMD, multi-threaded CPU backend.</summary>
    Cpu,

    /// <summary>An NVIDIA GPU through the CUDA driver; an error where none is usable.</summary>
    Cuda,

    /// <summary>
    /// An ILGPU accelerator, through the FlashKMeans.ILGPU package: a GPU (OpenCL, such as AMD and Intel, or CUDA) where one
    /// exists, else ILGPU's CPU accelerator; an error where the package is not referenced.
    /// </summary>
    Ilgpu,
}
