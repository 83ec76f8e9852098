namespace FlashKMeans.Cuda;

/// <summary>How a <see cref="ComputePrecision"/> maps onto device storage and kernels.</summary>
internal readonly record struct CudaPrecision(ComputePrecision Mode)
{
    /// <summary>Bytes per stored element: 2 for fp16/bf16, 4 otherwise.</summary>
    public int ElementBytes => Mode is ComputePrecision.Float16 or ComputePrecision.BFloat16 ? 2 : 4;

    /// <summary>Kernel name suffix of the storage type.</summary>
    public string Suffix => Mode switch
    {
        ComputePrecision.Float16 => "f16",
        ComputePrecision.BFloat16 => "bf16",
        _ => "f32",
    };

    /// <summary>The stored form's code for kernels that pack in passing (centroid_update.cu, finalize_centroids: 1 fp32, 2 tf32, 3 fp16, 4 bf16).</summary>
    public int PackCode => Mode switch
    {
        ComputePrecision.TensorFloat32 => 2,
        ComputePrecision.Float16 => 3,
        ComputePrecision.BFloat16 => 4,
        _ => 1,
    };

    /// <summary>The kernel that converts fp32 rows into the stored form (tf32 rounds at this point).</summary>
    public string PackKernel => Mode == ComputePrecision.TensorFloat32 ? "pack_rows_tf32" : "pack_rows_" + Suffix;

    /// <summary>The tensor-core assignment kernel, or null for exact fp32 arithmetic.</summary>
    public string? TensorCoreKernel => Mode switch
    {
        ComputePrecision.Float16 => "flash_assign_f16",
        ComputePrecision.BFloat16 => "flash_assign_bf16",
        ComputePrecision.TensorFloat32 => "flash_assign_tf32",
        _ => null,
    };

    /// <summary>
    /// Throws where features as large as <paramref name="maximumAbsoluteValue"/> cannot be stored: float16's
    /// largest finite value is 65504, and a larger feature would become infinite on the GPU and every distance
    /// of its row NaN. (bfloat16 and the fp32 types have float32's range.) NaN (not measured) passes.
    /// </summary>
    /// <exception cref="ArgumentException">The data is out of float16's range.</exception>
    public void ThrowIfOutOfRange(float maximumAbsoluteValue)
    {
        if (Mode == ComputePrecision.Float16 && maximumAbsoluteValue > (float)Half.MaxValue)
            throw new ArgumentException(
                $"A feature value reaches {maximumAbsoluteValue:G4}, beyond float16's largest finite value {(float)Half.MaxValue}: " +
                "it would become infinite on the GPU. Use Precision = BFloat16 or Float32, or scale the data down.");
    }

    /// <summary>Row pitch in elements: rows start 16-byte aligned, as the tensor-core loads need.</summary>
    public int Pitch(int dimension)
    {
        int perChunk = 16 / ElementBytes;
        return (dimension + perChunk - 1) / perChunk * perChunk;
    }

    /// <summary>Whether <paramref name="dimension"/> takes the tensor-core kernel rather than the exact one.</summary>
    /// <remarks>Below d = 16 the k-step padding would waste most of the tensor-core work, and the
    /// problem is memory-bound anyway, so the exact kernel (on the same stored values) is used.</remarks>
    public bool UsesTensorCores(int dimension) => TensorCoreKernel is not null && dimension >= 16;
}
