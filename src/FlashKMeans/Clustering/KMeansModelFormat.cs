using System.Buffers.Binary;
using FlashKMeans.Primitives;

namespace FlashKMeans.Clustering;

/// <summary>
/// The binary model format. All numbers little-endian.
/// <code>
/// offset  size        field
/// 0       4           magic "FKMM"
/// 4       2           format version (1)
/// 6       2           flags (bit 0: feature weights follow the centroids; other bits 0)
/// 8       4           K (int32, ≥ 1)
/// 12      4           d (int32, ≥ 1)
/// 16      4           distance (int32: 0 squared Euclidean, 1 cosine)
/// 20      4           iterations (int32)
/// 24      4           converged (int32, 0 or 1)
/// 28      8           inertia (float64)
/// 36      8           empty clusters re-seeded (int64)
/// 44      4           H, inertia history length (int32)
/// 48      8·H         inertia history (float64)
/// ..      4·K·d       centroids, row-major (float32)
/// ..      4·d         with flag bit 0: feature weights (float32, in [0, 1])
/// ..      4           CRC-32 (IEEE) of every preceding byte
/// </code>
/// A reader rejects a wrong magic, an unknown version, reserved flags that are not zero, impossible sizes or
/// counts, a negative or NaN inertia, a short stream, a checksum mismatch, non-finite centroids and, for cosine
/// models, centroids that are not unit length.
/// The checksum can only be tested at the end, so until then the header's sizes are claims: a seekable stream
/// must hold the bytes they claim before anything is allocated, and from a stream that cannot say its length
/// the arrays grow only as the bytes arrive, so a corrupted header fails as truncated having allocated little.
/// </summary>
internal static class KMeansModelFormat
{
    /// <summary>The version this code writes.</summary>
    public const ushort Version = 1;

    private static ReadOnlySpan<byte> Magic => "FKMM"u8;
    private const int HeaderSize = 48;

    /// <summary>Flag bit: d feature weights follow the centroids.</summary>
    private const ushort FeatureWeightsFlag = 1;

    /// <summary>Centroid bytes converted and checksummed per write or read: models larger than one array stream through it.</summary>
    private const int ChunkBytes = 1 << 20;

    /// <summary>The most inertia history entries a header may claim (one per Lloyd iteration).</summary>
    private const int MaximumHistory = 100_000_000;

    /// <summary>Serialises <paramref name="model"/> into <paramref name="stream"/>.</summary>
    public static void Write(KMeansModel model, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(stream);
        var history = model.InertiaHistory;
        var head = new byte[HeaderSize + 8L * history.Count];
        var span = head.AsSpan();
        Magic.CopyTo(span);
        BinaryPrimitives.WriteUInt16LittleEndian(span[4..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(span[6..], (ushort)(model.FeatureWeights.IsEmpty ? 0 : FeatureWeightsFlag));
        BinaryPrimitives.WriteInt32LittleEndian(span[8..], model.NumberOfClusters);
        BinaryPrimitives.WriteInt32LittleEndian(span[12..], model.Dimension);
        BinaryPrimitives.WriteInt32LittleEndian(span[16..], (int)model.Distance);
        BinaryPrimitives.WriteInt32LittleEndian(span[20..], model.Iterations);
        BinaryPrimitives.WriteInt32LittleEndian(span[24..], model.Converged ? 1 : 0);
        BinaryPrimitives.WriteDoubleLittleEndian(span[28..], model.Inertia);
        BinaryPrimitives.WriteInt64LittleEndian(span[36..], model.EmptyClustersReseeded);
        BinaryPrimitives.WriteInt32LittleEndian(span[44..], history.Count);
        int offset = HeaderSize;
        foreach (double value in history)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(span[offset..], value);
            offset += 8;
        }
        uint crc = Crc32.Append(Crc32.Initial, head);
        stream.Write(head);

        // The centroids (4·K·d bytes, which may exceed the largest byte array) go out in chunks.
        var centroids = model.Centroids;
        var chunk = new byte[(int)Math.Min(ChunkBytes, 4L * centroids.Length)];
        for (int first = 0; first < centroids.Length; first += chunk.Length / 4)
        {
            var values = centroids.Span.Slice(first, Math.Min(chunk.Length / 4, centroids.Length - first));
            var bytes = chunk.AsSpan(0, values.Length * 4);
            for (int i = 0; i < values.Length; i++)
                BinaryPrimitives.WriteSingleLittleEndian(bytes[(4 * i)..], values[i]);
            crc = Crc32.Append(crc, bytes);
            stream.Write(bytes);
        }
        if (!model.FeatureWeights.IsEmpty)
        {
            var bytes = new byte[4 * model.Dimension];
            for (int j = 0; j < model.Dimension; j++)
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * j), model.FeatureWeights.Span[j]);
            crc = Crc32.Append(crc, bytes);
            stream.Write(bytes);
        }
        Span<byte> checksum = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(checksum, Crc32.Finish(crc));
        stream.Write(checksum);
    }

    /// <summary>Deserialises a model.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a valid model.</exception>
    public static KMeansModel Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> header = stackalloc byte[HeaderSize];
        ReadExactly(stream, header[..4], "magic");
        if (!header[..4].SequenceEqual(Magic))
            throw new InvalidDataException("Not a FlashKMeans model: the file does not start with \"FKMM\".");
        ReadExactly(stream, header[4..], "header");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(header[4..]);
        if (version != Version)
            throw new InvalidDataException($"Unsupported FlashKMeans model version {version}; this library reads version {Version}.");
        int k = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
        int d = BinaryPrimitives.ReadInt32LittleEndian(header[12..]);
        int distance = BinaryPrimitives.ReadInt32LittleEndian(header[16..]);
        int iterations = BinaryPrimitives.ReadInt32LittleEndian(header[20..]);
        int converged = BinaryPrimitives.ReadInt32LittleEndian(header[24..]);
        double inertia = BinaryPrimitives.ReadDoubleLittleEndian(header[28..]);
        long reseeded = BinaryPrimitives.ReadInt64LittleEndian(header[36..]);
        int historyCount = BinaryPrimitives.ReadInt32LittleEndian(header[44..]);
        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(header[6..]);
        if ((flags & ~FeatureWeightsFlag) != 0)
            throw new InvalidDataException($"Corrupted FlashKMeans model: reserved flags 0x{flags:X4} are not zero.");
        if (reseeded < 0 || inertia < 0 || double.IsNaN(inertia) && iterations > 0)
            throw new InvalidDataException($"Corrupted FlashKMeans model: impossible counts (inertia {inertia}, {reseeded} clusters re-seeded).");
        if (k < 1 || d < 1 || (long)k * d > Array.MaxLength || historyCount < 0 || historyCount > MaximumHistory
            || !Enum.IsDefined((KMeansDistance)distance) || converged is not (0 or 1) || iterations < 0)
            throw new InvalidDataException($"Corrupted FlashKMeans model: impossible header (K={k}, d={d}, distance={distance}, history={historyCount}).");

        bool weighted = (flags & FeatureWeightsFlag) != 0;
        long bodySize = 8L * historyCount + 4L * k * d + (weighted ? 4L * d : 0) + 4;
        bool lengthChecked = false;
        if (stream.CanSeek)
        {
            if (stream.Length - stream.Position < bodySize)
                throw new InvalidDataException(
                    $"Truncated FlashKMeans model: the header (K={k}, d={d}, history={historyCount}) needs {bodySize} more bytes, " +
                    $"{stream.Length - stream.Position} present.");
            lengthChecked = true;
        }
        uint crc = Crc32.Append(Crc32.Initial, header);
        var chunk = new byte[(int)Math.Min(ChunkBytes, Math.Max(8L * historyCount, 4L * k * d))];
        var history = ReadValues(stream, chunk, historyCount, sizeof(double), "inertia history", lengthChecked, ref crc,
            static bytes => BinaryPrimitives.ReadDoubleLittleEndian(bytes));
        // The centroids (4·K·d bytes, which may exceed the largest byte array) come in chunks.
        var centroids = ReadValues(stream, chunk, k * d, sizeof(float), "centroids", lengthChecked, ref crc,
            static bytes => BinaryPrimitives.ReadSingleLittleEndian(bytes));
        float[]? featureWeights = weighted
            ? ReadValues(stream, chunk, d, sizeof(float), "feature weights", lengthChecked, ref crc, static bytes => BinaryPrimitives.ReadSingleLittleEndian(bytes))
            : null;
        Span<byte> checksum = stackalloc byte[4];
        ReadExactly(stream, checksum, "checksum");
        if (BinaryPrimitives.ReadUInt32LittleEndian(checksum) != Crc32.Finish(crc))
            throw new InvalidDataException("Corrupted FlashKMeans model: checksum mismatch.");
        if (!Data.DataValidator.AllFinite(centroids))
            throw new InvalidDataException("Corrupted FlashKMeans model: the centroids contain non-finite values.");
        if (featureWeights is not null && featureWeights.Any(w => !(w >= 0 && w <= 1)))
            throw new InvalidDataException("Corrupted FlashKMeans model: a feature weight lies outside [0, 1].");
        if (history.Any(h => !(h >= 0)))
            throw new InvalidDataException("Corrupted FlashKMeans model: the inertia history holds a negative or NaN value.");
        if ((KMeansDistance)distance == KMeansDistance.Cosine)
        {
            for (int c = 0; c < k; c++)
            {
                double norm = Math.Sqrt(VectorMath.DotDouble(centroids.AsSpan(c * d, d), centroids.AsSpan(c * d, d)));
                // Written as float32 from unit vectors: within a few float32 steps of 1.
                if (!(Math.Abs(norm - 1) <= 1e-5))
                    throw new InvalidDataException($"Corrupted FlashKMeans model: cosine centroid {c} has length {norm:G9}, not 1.");
            }
        }
        return KMeansModel.Restore(centroids, d, (KMeansDistance)distance, inertia, iterations, converged == 1, reseeded, history, featureWeights);
    }

    private delegate T Decoder<T>(ReadOnlySpan<byte> bytes);

    /// <summary>
    /// Reads <paramref name="count"/> little-endian values of <paramref name="size"/> bytes through
    /// <paramref name="chunk"/>, adding them to the checksum. The array grows only as bytes arrive, so a
    /// header that claims more than a non-seekable stream holds fails before the claim is allocated.
    /// </summary>
    private static T[] ReadValues<T>(Stream stream, byte[] chunk, int count, int size, string part, bool lengthChecked, ref uint crc, Decoder<T> decode)
    {
        var values = new T[Capacity(count, size, lengthChecked)];
        int perChunk = chunk.Length / size;
        for (int first = 0; first < count; first += perChunk)
        {
            int n = Math.Min(perChunk, count - first);
            var bytes = ReadChunk(stream, chunk, n * size, part, (long)size * first, (long)size * count, ref crc);
            Grow(ref values, first + n, count);
            for (int i = 0; i < n; i++)
                values[first + i] = decode(bytes[(size * i)..]);
        }
        return values;
    }

    /// <summary>
    /// The first capacity of an array the header claims <paramref name="count"/> values for: all of them where the
    /// stream's length has vouched for the bytes, otherwise at most one chunk's worth, grown by <see cref="Grow{T}"/>
    /// as the bytes arrive.
    /// </summary>
    private static int Capacity(int count, int size, bool lengthChecked) => lengthChecked ? count : Math.Min(count, ChunkBytes / size);

    /// <summary>
    /// Makes room for <paramref name="needed"/> values, doubling (up to the claimed <paramref name="count"/>) so that
    /// what is allocated stays within about twice what the stream has actually delivered, and the last array is
    /// the model's own, with no final copy.
    /// </summary>
    private static void Grow<T>(ref T[] values, int needed, int count)
    {
        if (needed <= values.Length)
            return;
        Array.Resize(ref values, (int)Math.Min(count, Math.Max(needed, 2L * values.Length)));
    }

    /// <summary>Reads the next bytes of a part into the chunk buffer and checksums them.</summary>
    /// <param name="stream">The model stream.</param>
    /// <param name="chunk">The reused buffer, at least <paramref name="length"/> bytes.</param>
    /// <param name="length">Bytes to read.</param>
    /// <param name="part">What the bytes are, for the message on a short stream.</param>
    /// <param name="offset">Bytes of the part read before this chunk, for the same message.</param>
    /// <param name="total">Bytes the header claims for the part.</param>
    /// <param name="crc">The running CRC-32 state.</param>
    private static ReadOnlySpan<byte> ReadChunk(Stream stream, byte[] chunk, int length, string part, long offset, long total, ref uint crc)
    {
        var bytes = chunk.AsSpan(0, length);
        int read = 0;
        while (read < length)
        {
            int n = stream.Read(bytes[read..]);
            if (n == 0)
                throw new InvalidDataException(
                    $"Truncated FlashKMeans model: the {part} end after {offset + read} of the {total} bytes the header claims.");
            read += n;
        }
        crc = Crc32.Append(crc, bytes);
        return bytes;
    }

    private static void ReadExactly(Stream stream, Span<byte> destination, string part)
    {
        int read = 0;
        while (read < destination.Length)
        {
            int n = stream.Read(destination[read..]);
            if (n == 0)
                throw new InvalidDataException($"Truncated FlashKMeans model: the {part} ends after {read} of {destination.Length} bytes.");
            read += n;
        }
    }
}
