namespace FlashKMeans.Data;

/// <summary>How one feature is stored in a row file.</summary>
public enum RowElementType
{
    /// <summary>IEEE binary32, little-endian.</summary>
    Float32,

    /// <summary>IEEE binary16, little-endian; widened to float32 as batches are read.</summary>
    Float16,
}
