using Microsoft.ML;
using Microsoft.ML.Data;

namespace FlashKMeans.MLNet.Tests;

/// <summary>Random inputs generated per test; no test knows its answers in advance.</summary>
internal static class Blobs
{
    /// <summary>n rows of d features around <paramref name="centers"/> centres drawn from N(0, spread²), unit noise; also each row's centre.</summary>
    public static (float[] Rows, int[] Truth) Make(int n, int d, int centers, double spread, int seed)
    {
        var random = new Random(seed);
        var means = new double[centers * d];
        for (int i = 0; i < means.Length; i++)
            means[i] = spread * Normal(random);
        var rows = new float[n * d];
        var truth = new int[n];
        for (int r = 0; r < n; r++)
        {
            int c = r < centers ? r : random.Next(centers);
            truth[r] = c;
            for (int f = 0; f < d; f++)
                rows[r * d + f] = (float)(means[c * d + f] + Normal(random));
        }
        return (rows, truth);
    }

    public static double Normal(Random random)
    {
        double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>k distinct rows of the data, as explicit initial centroids.</summary>
    public static float[] PickRows(float[] rows, int d, int k, int seed)
    {
        var random = new Random(seed);
        var picked = Enumerable.Range(0, rows.Length / d).OrderBy(_ => random.Next()).Take(k).ToArray();
        var result = new float[k * d];
        for (int i = 0; i < k; i++)
            Array.Copy(rows, picked[i] * d, result, i * d, d);
        return result;
    }
}

/// <summary>
/// A minimal IDataView written against ML.NET's public API only: a Features vector column, an Id column, and
/// optional Weight and Label columns. It counts open cursors (to prove nothing leaks) and cursor passes, and
/// can be told to throw from its cursor at a given row of a given pass.
/// </summary>
internal sealed class TestDataView : IDataView
{
    private readonly float[] _rows;
    private readonly float[]? _weights;
    private readonly uint[]? _labels;
    private int _openCursors;
    private int _cursorsOpened;

    public TestDataView(float[] rows, int dimension, float[]? weights = null, uint[]? labels = null, uint labelCount = 0,
        string featureName = "Features", DataViewType? featureType = null)
    {
        _rows = rows;
        Dimension = dimension;
        _weights = weights;
        _labels = labels;
        RowCount = rows.Length / dimension;
        var builder = new DataViewSchema.Builder();
        builder.AddColumn("Id", NumberDataViewType.Int32);
        builder.AddColumn(featureName, featureType ?? new VectorDataViewType(NumberDataViewType.Single, dimension));
        if (weights is not null)
            builder.AddColumn("Weight", NumberDataViewType.Single);
        if (labels is not null)
            builder.AddColumn("Label", new KeyDataViewType(typeof(uint), labelCount));
        Schema = builder.ToSchema();
    }

    public int Dimension { get; }

    public int RowCount { get; }

    /// <summary>Cursors currently open (created and not yet disposed).</summary>
    public int OpenCursors => Volatile.Read(ref _openCursors);

    /// <summary>Cursors opened so far.</summary>
    public int CursorsOpened => Volatile.Read(ref _cursorsOpened);

    /// <summary>When set, the cursor numbered <c>Pass</c> (1-based) throws on moving to row <c>Row</c>.</summary>
    public (int Pass, int Row)? ThrowAt { get; set; }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => RowCount;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        int number = Interlocked.Increment(ref _cursorsOpened);
        Interlocked.Increment(ref _openCursors);
        return new Cursor(this, columnsNeeded.Select(c => c.Index).ToHashSet(), number);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => new[] { GetRowCursor(columnsNeeded, rand) };

    private sealed class Cursor(TestDataView view, HashSet<int> active, int number) : DataViewRowCursor
    {
        private long _position = -1;
        private bool _disposed;

        public override long Position => _position;
        public override long Batch => 0;
        public override DataViewSchema Schema => view.Schema;

        public override bool MoveNext()
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (view.ThrowAt is { } at && at.Pass == number && at.Row == _position + 1)
                throw new IOException($"disk read failed at row {at.Row}");
            if (_position + 1 >= view.RowCount)
            {
                _position = -1;
                return false;
            }
            _position++;
            return true;
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)_position, 0);

        public override bool IsColumnActive(DataViewSchema.Column column) => active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!IsColumnActive(column))
                throw new InvalidOperationException($"Column '{column.Name}' is not active.");
            Delegate getter = column.Name switch
            {
                "Id" => (ValueGetter<int>)((ref int v) => v = (int)_position),
                "Weight" => (ValueGetter<float>)((ref float v) => v = view._weights![_position]),
                "Label" => (ValueGetter<uint>)((ref uint v) => v = view._labels![_position]),
                _ => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> v) =>
                {
                    var editor = VBufferEditor.Create(ref v, view.Dimension);
                    view._rows.AsSpan((int)_position * view.Dimension, view.Dimension).CopyTo(editor.Values);
                    v = editor.Commit();
                }),
            };
            return getter as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"Column '{column.Name}' is {column.Type}, not {typeof(TValue).Name}.");
        }

        protected override void Dispose(bool disposing)
        {
            if (!_disposed)
            {
                _disposed = true;
                Interlocked.Decrement(ref view._openCursors);
            }
            base.Dispose(disposing);
        }
    }
}

/// <summary>Reading whole columns back out of a data view.</summary>
internal static class Read
{
    public static float[][] Scores(IDataView data, string column = "Score")
    {
        var col = data.Schema[column];
        var result = new List<float[]>();
        using var cursor = data.GetRowCursor(new[] { col });
        var getter = cursor.GetGetter<VBuffer<float>>(col);
        VBuffer<float> value = default;
        while (cursor.MoveNext())
        {
            getter(ref value);
            var dense = new float[value.Length];
            value.CopyTo(dense);
            result.Add(dense);
        }
        return result.ToArray();
    }

    public static uint[] Keys(IDataView data, string column = "PredictedLabel")
    {
        var col = data.Schema[column];
        var result = new List<uint>();
        using var cursor = data.GetRowCursor(new[] { col });
        var getter = cursor.GetGetter<uint>(col);
        uint value = 0;
        while (cursor.MoveNext())
        {
            getter(ref value);
            result.Add(value);
        }
        return result.ToArray();
    }

    public static int[] Ints(IDataView data, string column)
    {
        var col = data.Schema[column];
        var result = new List<int>();
        using var cursor = data.GetRowCursor(new[] { col });
        var getter = cursor.GetGetter<int>(col);
        int value = 0;
        while (cursor.MoveNext())
        {
            getter(ref value);
            result.Add(value);
        }
        return result.ToArray();
    }

    /// <summary>Each input row pushed through a row-to-row mapper: (Score, PredictedLabel) per row.</summary>
    public static (float[][] Scores, uint[] Keys) ThroughRowMapper(ITransformer transformer, IDataView input)
    {
        var mapper = transformer.GetRowToRowMapper(input.Schema);
        var score = mapper.OutputSchema["Score"];
        var key = mapper.OutputSchema["PredictedLabel"];
        var needed = mapper.GetDependencies(new[] { score, key });
        var scores = new List<float[]>();
        var keys = new List<uint>();
        var cursor = input.GetRowCursor(needed);
        using var row = mapper.GetRow(cursor, new[] { score, key });
        var getScore = row.GetGetter<VBuffer<float>>(score);
        var getKey = row.GetGetter<uint>(key);
        VBuffer<float> s = default;
        uint k = 0;
        while (cursor.MoveNext())
        {
            getScore(ref s);
            getKey(ref k);
            var dense = new float[s.Length];
            s.CopyTo(dense);
            scores.Add(dense);
            keys.Add(k);
        }
        return (scores.ToArray(), keys.ToArray());
    }
}
