using FlashKMeans.Data;

namespace FlashKMeans.Cuda.Streaming;

/// <summary>
/// The host side of a streamed pass: fills ring buffers with rows [first, first + count) of a source in
/// the transfer layout, converting on several threads. Random-access sources (<see cref="IRowBlockSource"/>)
/// are read in place, so rows the GPU already caches cost nothing; other sources are read forward through
/// one reader per pass. A source that fails or ends early surfaces as an
/// <see cref="InvalidOperationException"/> naming the row, with the source's exception inside. Where the
/// rows were not validated before (the streamed prediction pass reads the source once), the feeder can
/// check them as it reads, as fits and CPU scoring do: a NaN or infinite value, or an fp32 row whose squared
/// length overflows float32 distances, is an <see cref="ArgumentException"/> naming the rows.
/// </summary>
internal sealed class BatchFeeder : IDisposable
{
    private readonly IBatchSource _source;
    // What a forward pass reads: the source under its row mappings (centring, unit length), which the feeder applies to
    // each slice on its conversion threads rather than the source's reader mapping every batch on one thread.
    private readonly IBatchSource _read;
    private readonly RowMappingBatchSource[] _maps;
    private float[] _mapped = [];
    private readonly IRowBlockSource? _blocks;
    private readonly long _rows;
    private readonly int _d;
    private readonly TransferElement _type;
    private readonly int _pitch;
    private readonly int _threads;
    private readonly bool _validate;
    private IBatchReader? _reader;
    private DataBatch _current;
    private int _offset;      // rows of _current already served
    private long _served;     // rows the reader has moved past in this pass

    /// <param name="source">The rows.</param>
    /// <param name="rows">N.</param>
    /// <param name="type">Element type on the link.</param>
    /// <param name="pitch">Elements per row on the link.</param>
    /// <param name="threads">Conversion threads.</param>
    /// <param name="validateRows">Check every row served as fits and CPU scoring do (<see cref="DataValidator.ThrowIfBadRows"/>).</param>
    public BatchFeeder(IBatchSource source, long rows, TransferElement type, int pitch, int threads, bool validateRows = false)
    {
        _validate = validateRows;
        _source = source;
        _blocks = source as IRowBlockSource;
        _read = _blocks is null ? RowMappingBatchSource.Unwrap(source, out _maps) : source;
        _maps ??= [];
        _rows = rows;
        _d = source.Dimension;
        _type = type;
        _pitch = pitch;
        _threads = Math.Max(1, threads);
    }

    /// <summary>Whether rows can be read in any order without a pass.</summary>
    public bool IsRandomAccess => _blocks is not null;

    /// <summary>Bytes of <paramref name="count"/> rows in the transfer layout.</summary>
    public long TransferBytes(int count) => (long)count * _pitch * HalfPrecisionConversion.ElementBytes(_type);

    /// <summary>Starts a new pass (closes the reader of the last one).</summary>
    public void Restart()
    {
        _reader?.Dispose();
        _reader = null;
        _current = default;
        _offset = 0;
        _served = 0;
    }

    /// <summary>
    /// Writes rows [<paramref name="first"/>, <paramref name="first"/> + <paramref name="count"/>) into
    /// <paramref name="destination"/>, and their weights into <paramref name="weights"/> when it is not empty.
    /// Within a pass, calls must ask for ascending, non-overlapping rows.
    /// </summary>
    public void Fill(long first, int count, Span<byte> destination, Span<float> weights)
    {
        if (first < 0 || count < 0 || first + count > _rows)
            throw new ArgumentOutOfRangeException(nameof(first), $"Rows [{first}, {first + count}) are outside [0, {_rows}).");
        try
        {
            if (_blocks is not null)
            {
                var bytes = _blocks.GetRowBytes(first, count);
                if (_validate)
                    CheckRows(bytes, _blocks.ElementType, first, count);
                HalfPrecisionConversion.ConvertRows(bytes, _blocks.ElementType, count, _d, destination, _type, _pitch, _threads);
                if (!weights.IsEmpty)
                {
                    var w = _blocks.GetWeights(first, count);
                    if (w.IsEmpty)
                        weights[..count].Fill(1f);
                    else
                        w.CopyTo(weights);
                }
                return;
            }
            FillForward(first, count, destination, weights);
        }
        catch (Exception e) when (!e.Data.Contains(typeof(BatchFeeder)) && e is not InvalidDataException)
        {
            // A source that changed between passes already says so (InvalidDataException); other faults are named here.
            var wrapped = new InvalidOperationException($"The batch source failed while serving rows [{first}, {first + count}) for the GPU: {e.Message}", e);
            wrapped.Data[typeof(BatchFeeder)] = true;
            throw wrapped;
        }
    }

    private void FillForward(long first, int count, Span<byte> destination, Span<float> weights)
    {
        if (first < _served)
            throw new InvalidOperationException($"Rows must be read forward within a pass: row {first} asked after row {_served}.");
        _reader ??= _read.OpenReader();
        int eb = HalfPrecisionConversion.ElementBytes(_type);
        int done = 0;
        while (done < count)
        {
            if (_current.Dimension == 0 || _offset >= _current.RowCount)
            {
                if (!_reader.TryRead(out _current))
                    throw new InvalidDataException($"The data changed between passes: the source ended after {_served} rows; {_rows} were expected.");
                if (_current.FirstRow != _served)
                    throw new InvalidOperationException($"The source skipped from row {_served} to {_current.FirstRow}.");
                if (_current.Dimension != _d)
                    throw new InvalidOperationException($"A batch has dimension {_current.Dimension}; the source declares {_d}.");
                _offset = 0;
            }
            int available = _current.RowCount - _offset;
            long position = _served;
            if (position < first + done)
            {
                // Rows before the request (cached on the GPU, or skipped): move past them.
                int skip = (int)Math.Min(available, first + done - position);
                _offset += skip;
                _served += skip;
                continue;
            }
            int take = Math.Min(available, count - done);
            var rows = _maps.Length == 0 ? _current.Rows.Span.Slice(_offset * _d, take * _d) : Mapped(_current.Rows, _offset, take, first + done);
            if (_validate)
                CheckRows(System.Runtime.InteropServices.MemoryMarshal.AsBytes(rows), RowElementType.Float32, first + done, take);
            HalfPrecisionConversion.ConvertRows(System.Runtime.InteropServices.MemoryMarshal.AsBytes(rows), RowElementType.Float32, take, _d,
                destination.Slice((int)((long)done * _pitch * eb)), _type, _pitch, _threads);
            if (!weights.IsEmpty)
            {
                var w = _current.Weights.Span;
                if (w.IsEmpty)
                    weights.Slice(done, take).Fill(1f);
                else
                    w.Slice(_offset, take).CopyTo(weights.Slice(done, take));
            }
            _offset += take;
            _served += take;
            done += take;
        }
        if (_served == _rows)
            ThrowIfMoreRows();
    }

    /// <summary>
    /// Rows [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="count"/>) of a batch read from under the
    /// source's mappings (the first of them row <paramref name="firstRow"/> of the data), mapped as the source serves them,
    /// in slices on the conversion threads.
    /// </summary>
    private ReadOnlySpan<float> Mapped(ReadOnlyMemory<float> batchRows, int offset, int count, long firstRow)
    {
        if (_mapped.Length < count * _d)
            _mapped = new float[count * _d];
        RowMappingBatchSource.CopyMapped(_maps, batchRows.Slice(offset * _d, count * _d), _mapped.AsMemory(0, count * _d), _d, firstRow, _threads);
        return _mapped.AsSpan(0, count * _d);
    }

    /// <summary>
    /// At the end of a pass, checks that the source has no rows beyond the count the first pass found: a pass that
    /// simply stopped reading there would fit the first rows of a source that has grown.
    /// </summary>
    private void ThrowIfMoreRows()
    {
        if ((_current.Dimension != 0 && _offset < _current.RowCount) || _reader!.TryRead(out _))
            throw new InvalidDataException($"The data changed between passes: the source has more than the {_rows} rows it had when it was validated.");
    }

    /// <summary>
    /// Throws an <see cref="ArgumentException"/> (not wrapped as a source failure) when a value is NaN or infinite,
    /// or an fp32 row is longer than <see cref="DataValidator.MaximumSquaredNorm"/> allows: the rows a fit rejects
    /// and scoring on the CPU rejects, so that the GPU never labels a row from overflowed distances. (An fp16 row
    /// cannot be that long: its squared length is at most d · 65504².)
    /// </summary>
    private void CheckRows(ReadOnlySpan<byte> bytes, RowElementType type, long first, int count)
    {
        bool finite = type == RowElementType.Float32
            ? DataValidator.AllFinite(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes))
            : AllFiniteHalf(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(bytes));
        if (!finite)
        {
            var error = new ArgumentException($"Rows {first} to {first + count - 1} contain NaN or infinite values.", "source");
            error.Data[typeof(BatchFeeder)] = true;
            throw error;
        }
        if (type != RowElementType.Float32)
            return;
        try
        {
            // Cosine models stream unit-length rows, which always pass, so the length check can stay on.
            DataValidator.ThrowIfBadRows(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes), _d, first, checkNorms: true, "source");
        }
        catch (ArgumentException error)
        {
            error.Data[typeof(BatchFeeder)] = true;
            throw;
        }
    }

    /// <summary>Whether no fp16 value has the all-ones exponent of infinity and NaN.</summary>
    internal static bool AllFiniteHalf(ReadOnlySpan<ushort> bits)
    {
        const ushort exponent = 0x7C00;
        int i = 0;
        if (System.Numerics.Vector.IsHardwareAccelerated)
        {
            var mask = new System.Numerics.Vector<ushort>(exponent);
            var bad = System.Numerics.Vector<ushort>.Zero;
            for (; i <= bits.Length - System.Numerics.Vector<ushort>.Count; i += System.Numerics.Vector<ushort>.Count)
                bad |= System.Numerics.Vector.Equals(new System.Numerics.Vector<ushort>(bits[i..]) & mask, mask);
            if (bad != System.Numerics.Vector<ushort>.Zero)
                return false;
        }
        for (; i < bits.Length; i++)
        {
            if ((bits[i] & exponent) == exponent)
                return false;
        }
        return true;
    }

    public void Dispose() => Restart();
}
