using System.Buffers.Binary;
using System.Runtime.InteropServices;
using FlashKMeans.Engine;
using FlashKMeans.Primitives;
using Microsoft.Extensions.Logging;

namespace FlashKMeans.Clustering;

/// <summary>
/// The saved state of a <see cref="MiniBatchKMeans"/>: everything its next step depends on, so that a loaded state
/// continues bit for bit as the saved one would have. Little-endian:
/// <code>
/// magic "FKMB", version (uint16 = 1), flags (uint16 = 0)
/// d, K, distance, initialization, seed (int32 each); k-means++ trials (int32, −1 for the default)
/// oversampling factor (float64), k-means‖ rounds (int32)
/// batch size, epochs (int32); forgetting factor, reassignment ratio (float64); initialization size, no-improvement (int32, −1 for null); move tolerance (float64)
/// missing features (int32: 0 reject, 1 ignore); automatic feature weights (int32 0/1)
/// rows seen (int64); seeded (int32 0/1)
/// seeded:   steps, rows since reassignment, reassigned (int64); online inertia (float64); shifted (int32 0/1) [d float32]
///           centroids (K·d float32), seen weights (K float64) [with missing features ignored: seen weights per coordinate (K·d float64)]
///           [with feature weights: weight seen (float64), mean, spread, within (d float64 each), weights (d float32)]
/// buffered: batches (int32), then per batch: rows (int32), weighted (int32 0/1), rows·d float32 [rows float32]
/// CRC-32 (IEEE) of every preceding byte
/// </code>
/// A reader rejects a wrong magic or version, a checksum mismatch, a short stream and impossible values.
/// </summary>
internal static class MiniBatchStateFormat
{
    private const ushort Version = 2;  // 2 added MiniBatchOptions.CentroidPrecision; 1 is still read (float32 centroids)
    private static ReadOnlySpan<byte> Magic => "FKMB"u8;

    public static void Write(MiniBatchKMeans model, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var o = model.Options;
        var m = o.MiniBatch;
        using var body = new MemoryStream();
        using (var w = new BinaryWriter(body, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(Version);
            w.Write((ushort)0);
            w.Write(model.Dimension);
            w.Write(o.NumberOfClusters);
            w.Write((int)o.Distance);
            w.Write((int)o.Initialization);
            w.Write(o.Seed);
            w.Write(o.KMeansPlusPlusTrials ?? -1);
            w.Write(o.OversamplingFactor);
            w.Write(o.KMeansParallelRounds);
            w.Write(m.BatchSize);
            w.Write(m.MaximumNumberOfEpochs);
            w.Write(m.ForgettingFactor);
            w.Write(m.ReassignmentRatio);
            w.Write(m.InitializationSize ?? -1);
            w.Write(m.MaximumNoImprovement ?? -1);
            w.Write(m.CentroidMoveTolerance);
            w.Write((int)m.CentroidPrecision);
            w.Write((int)o.MissingFeatures);
            w.Write(o.AutomaticFeatureWeights ? 1 : 0);
            w.Write(model.RowsSeen);
            var state = model.State;
            w.Write(state is null ? 0 : 1);
            if (state is not null)
            {
                w.Write(state.Steps);
                w.Write(state.RowsSinceReassignment);
                w.Write(state.Reassigned);
                w.Write(state.OnlineInertia);
                w.Write(model.Shift is null ? 0 : 1);
                if (model.Shift is { } shift)
                    w.Write(MemoryMarshal.AsBytes(shift.AsSpan()));
                w.Write(MemoryMarshal.AsBytes(state.Centroids.AsSpan()));
                w.Write(MemoryMarshal.AsBytes(state.WeightSums.AsSpan()));
                if (state.CoordinateWeights is { } coordinates)
                    w.Write(MemoryMarshal.AsBytes(coordinates.AsSpan()));
                if (state.Relevance is { } relevance)
                {
                    w.Write(relevance.Seen);
                    w.Write(MemoryMarshal.AsBytes(relevance.Mean.AsSpan()));
                    w.Write(MemoryMarshal.AsBytes(relevance.Spread.AsSpan()));
                    w.Write(MemoryMarshal.AsBytes(relevance.Within.AsSpan()));
                    w.Write(MemoryMarshal.AsBytes(relevance.Weights.AsSpan()));
                }
            }
            else
            {
                w.Write(model.Buffer.Count);
                foreach (var (rows, weights) in model.Buffer)
                {
                    w.Write(rows.Length / model.Dimension);
                    w.Write(weights is null ? 0 : 1);
                    w.Write(MemoryMarshal.AsBytes(rows.AsSpan()));
                    if (weights is not null)
                        w.Write(MemoryMarshal.AsBytes(weights.AsSpan()));
                }
            }
        }
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("Saving mini-batch state needs a little-endian machine.");
        var bytes = body.GetBuffer().AsSpan(0, (int)body.Length);
        stream.Write(bytes);
        Span<byte> crc = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(crc, Crc32.Compute(bytes));
        stream.Write(crc);
    }

    public static MiniBatchKMeans Read(Stream stream, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        var all = copy.GetBuffer().AsSpan(0, (int)copy.Length);
        if (all.Length < 12 || !all[..4].SequenceEqual(Magic))
            throw new InvalidDataException("Not a saved FlashKMeans mini-batch state: the magic \"FKMB\" is missing.");
        uint expected = BinaryPrimitives.ReadUInt32LittleEndian(all[^4..]);
        if (Crc32.Compute(all[..^4]) != expected)
            throw new InvalidDataException("Corrupted FlashKMeans mini-batch state: the checksum does not match (truncated or altered).");
        using var r = new BinaryReader(new MemoryStream(copy.GetBuffer(), 4, (int)copy.Length - 8));
        try
        {
            ushort version = r.ReadUInt16();
            if (version is < 1 or > Version || r.ReadUInt16() != 0)
                throw new InvalidDataException($"FlashKMeans mini-batch state of version {version}; this build reads versions 1 to {Version}.");
            int d = r.ReadInt32(), k = r.ReadInt32();
            if (d < 1 || k < 1)
                throw new InvalidDataException($"Corrupted FlashKMeans mini-batch state: d = {d}, K = {k}.");
            var options = new KMeansOptions
            {
                NumberOfClusters = k,
                Distance = (KMeansDistance)r.ReadInt32(),
                Initialization = (KMeansInitialization)r.ReadInt32(),
                Seed = r.ReadInt32(),
                KMeansPlusPlusTrials = r.ReadInt32() is int trials and >= 0 ? trials : null,
                OversamplingFactor = r.ReadDouble(),
                KMeansParallelRounds = r.ReadInt32(),
                Logger = logger,
                MiniBatch = new MiniBatchOptions
                {
                    BatchSize = r.ReadInt32(),
                    MaximumNumberOfEpochs = r.ReadInt32(),
                    ForgettingFactor = r.ReadDouble(),
                    ReassignmentRatio = r.ReadDouble(),
                    InitializationSize = r.ReadInt32() is int size and >= 0 ? size : null,
                    MaximumNoImprovement = r.ReadInt32() is int patience and >= 0 ? patience : null,
                    CentroidMoveTolerance = r.ReadDouble(),
                },
            };
            if (version >= 2)
                options.MiniBatch.CentroidPrecision = (ComputePrecision)r.ReadInt32();
            options.MissingFeatures = (MissingFeatures)r.ReadInt32();
            options.AutomaticFeatureWeights = r.ReadInt32() != 0;
            long rowsSeen = r.ReadInt64();
            bool seeded = r.ReadInt32() != 0;
            MiniBatchState? state = null;
            float[]? shift = null;
            var buffer = new List<(float[] Rows, float[]? Weights)>();
            if (seeded)
            {
                long steps = r.ReadInt64(), since = r.ReadInt64(), reassigned = r.ReadInt64();
                double inertia = r.ReadDouble();
                if (r.ReadInt32() != 0)
                    shift = ReadFloats(r, d);
                var centroids = ReadFloats(r, checked(k * d));
                var weights = MemoryMarshal.Cast<byte, double>(ReadBytes(r, checked(k * 8))).ToArray();
                var coordinates = options.MissingFeatures == MissingFeatures.Ignore
                    ? MemoryMarshal.Cast<byte, double>(ReadBytes(r, checked(k * d * 8))).ToArray() : null;
                FeatureRelevance? relevance = null;
                if (options.AutomaticFeatureWeights)
                {
                    relevance = new FeatureRelevance(d);
                    double seen = r.ReadDouble();
                    var mean = ReadDoubles(r, d);
                    var spread = ReadDoubles(r, d);
                    var within = ReadDoubles(r, d);
                    var featureWeights = ReadFloats(r, d);
                    if (!(seen >= 0) || spread.Any(v => !(v >= 0)) || within.Any(v => !(v >= 0)) || featureWeights.Any(v => !(v >= 0 && v <= 1))
                        || mean.Any(v => !double.IsFinite(v)))
                        throw new InvalidDataException("Corrupted FlashKMeans mini-batch state: impossible feature statistics.");
                    relevance.Restore(seen, mean, spread, within, featureWeights);
                }
                if (coordinates is not null && coordinates.Any(w => !(w >= 0) || double.IsInfinity(w)))
                    throw new InvalidDataException("Corrupted FlashKMeans mini-batch state: impossible coordinate weights.");
                if (steps < 0 || since < 0 || reassigned < 0 || !(inertia >= 0) || weights.Any(w => !(w >= 0) || double.IsInfinity(w))
                    || !Data.DataValidator.AllFinite(centroids) || shift is not null && !Data.DataValidator.AllFinite(shift))
                    throw new InvalidDataException("Corrupted FlashKMeans mini-batch state: impossible counts, weights or centroids.");
                state = new MiniBatchState(centroids, d, options.Distance, MiniBatchKMeans.StateSeed(options.Seed), coordinates is not null,
                    centroidPrecision: options.MiniBatch.CentroidPrecision);
                state.Restore(centroids, weights, coordinates, steps, since, reassigned, inertia, relevance);
                if (options.Initialization == KMeansInitialization.Explicit)
                    options.InitialCentroids = centroids.ToArray();  // already seeded: the given centroids are spent
            }
            else
            {
                if (options.Initialization == KMeansInitialization.Explicit)
                    throw new InvalidDataException("Corrupted FlashKMeans mini-batch state: explicit centroids but not seeded.");
                int batches = r.ReadInt32();
                if (batches < 0)
                    throw new InvalidDataException("Corrupted FlashKMeans mini-batch state: a negative batch count.");
                for (int b = 0; b < batches; b++)
                {
                    int rows = r.ReadInt32();
                    bool weighted = r.ReadInt32() != 0;
                    if (rows < 1)
                        throw new InvalidDataException("Corrupted FlashKMeans mini-batch state: an empty buffered batch.");
                    var values = ReadFloats(r, checked(rows * d));
                    buffer.Add((values, weighted ? ReadFloats(r, rows) : null));
                }
            }
            if (r.BaseStream.Position != r.BaseStream.Length)
                throw new InvalidDataException("Corrupted FlashKMeans mini-batch state: bytes left over.");
            var model = new MiniBatchKMeans(options, d);
            model.Restore(rowsSeen, state, shift, buffer);
            return model;
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException("Corrupted FlashKMeans mini-batch state: it ends early.", e);
        }
        catch (Exception e) when (e is ArgumentException or OverflowException)
        {
            throw new InvalidDataException($"Corrupted FlashKMeans mini-batch state: {e.Message}", e);
        }
    }

    private static byte[] ReadBytes(BinaryReader r, int count)
    {
        var bytes = r.ReadBytes(count);
        if (bytes.Length != count)
            throw new EndOfStreamException();
        return bytes;
    }

    private static double[] ReadDoubles(BinaryReader r, int count) => MemoryMarshal.Cast<byte, double>(ReadBytes(r, checked(count * 8))).ToArray();

    private static float[] ReadFloats(BinaryReader r, int count) => MemoryMarshal.Cast<byte, float>(ReadBytes(r, checked(count * 4))).ToArray();
}
