using FlashKMeans.Clustering;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;

namespace FlashKMeans.MLNet;

/// <summary>
/// Gets FlashKMeans scoring back for ML.NET KMeans models: a model saved from <see cref="GpuKMeansTransformer"/>
/// (or trained with ML.NET's own <c>KMeans</c>) loads as ML.NET's <c>ClusteringPredictionTransformer</c>; these
/// methods swap it for a <see cref="GpuKMeansTransformer"/> with the same centroids, in the same order.
/// </summary>
public static class FlashKMeansModelExtensions
{
    /// <summary>
    /// A <see cref="GpuKMeansTransformer"/> with the centroids of an ML.NET KMeans transformer, such as the one
    /// <c>mlContext.Model.Load</c> returns for a saved FlashKMeans or KMeans model.
    /// </summary>
    /// <param name="transformer">An ML.NET clustering transformer over <see cref="KMeansModelParameters"/>.</param>
    /// <param name="device">Where to score; <see cref="ComputeDevice.Auto"/> uses a CUDA GPU when one is usable.</param>
    /// <param name="blockRows">Rows scored per engine call by <see cref="GpuKMeansTransformer.Transform"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="transformer"/> is not an ML.NET KMeans transformer.</exception>
    public static GpuKMeansTransformer ToFlashKMeans(this ITransformer transformer, ComputeDevice device = ComputeDevice.Auto,
        int blockRows = GpuKMeansTrainer.Defaults.BatchSize)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        if (transformer is GpuKMeansTransformer already)
            return already;
        if (!TryConvert(transformer, device, blockRows, out var converted))
            throw new ArgumentException(
                $"{transformer.GetType().Name} is not an ML.NET KMeans transformer (a ClusteringPredictionTransformer over KMeansModelParameters). " +
                $"For a whole loaded pipeline use {nameof(WithFlashKMeansScoring)}.", nameof(transformer));
        return converted;
    }

    /// <summary>
    /// The same pipeline with every ML.NET KMeans transformer in it (nested chains included) replaced by a
    /// <see cref="GpuKMeansTransformer"/> with the same centroids. Other transformers are kept as they are.
    /// </summary>
    /// <param name="model">A transformer or chain, typically what <c>mlContext.Model.Load</c> returned.</param>
    /// <param name="device">Where to score; <see cref="ComputeDevice.Auto"/> uses a CUDA GPU when one is usable.</param>
    /// <param name="blockRows">Rows scored per engine call.</param>
    /// <exception cref="ArgumentException">The pipeline contains no ML.NET KMeans transformer.</exception>
    public static ITransformer WithFlashKMeansScoring(this ITransformer model, ComputeDevice device = ComputeDevice.Auto,
        int blockRows = GpuKMeansTrainer.Defaults.BatchSize)
    {
        ArgumentNullException.ThrowIfNull(model);
        int replaced = 0;
        var result = Replace(model, device, blockRows, ref replaced);
        if (replaced == 0)
            throw new ArgumentException("The model contains no ML.NET KMeans transformer to replace.", nameof(model));
        return result;
    }

    /// <summary>
    /// The same pipeline with every <see cref="GpuKMeansTransformer"/> in it (nested chains included) replaced by
    /// ML.NET's own KMeans transformer with the same centroids (<see cref="GpuKMeansTransformer.ToMLNetTransformer"/>),
    /// for tools that need ML.NET's types, such as ONNX export (<c>mlContext.Model.ConvertToOnnx</c>).
    /// </summary>
    /// <param name="model">A transformer or chain containing FlashKMeans transformers.</param>
    public static ITransformer WithMLNetScoring(this ITransformer model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model switch
        {
            GpuKMeansTransformer ours => ours.ToMLNetTransformer(),
            IEnumerable<ITransformer> chain => new TransformerChain<ITransformer>(chain.Select(WithMLNetScoring).ToArray()),
            _ => model,
        };
    }

    private static ITransformer Replace(ITransformer transformer, ComputeDevice device, int blockRows, ref int replaced)
    {
        if (TryConvert(transformer, device, blockRows, out var converted))
        {
            replaced++;
            return converted;
        }
        if (transformer is IEnumerable<ITransformer> chain)
        {
            var parts = new List<ITransformer>();
            foreach (var part in chain)
                parts.Add(Replace(part, device, blockRows, ref replaced));
            return new TransformerChain<ITransformer>(parts.ToArray());
        }
        return transformer;
    }

    private static bool TryConvert(ITransformer transformer, ComputeDevice device, int blockRows, out GpuKMeansTransformer converted)
    {
        converted = null!;
        // A loaded model's static type argument is internal (IPredictorProducing<VBuffer<float>>), so match through the
        // covariant public interface and the model's runtime type.
        if (transformer is not ISingleFeaturePredictionTransformer<object> single || single.Model is not KMeansModelParameters parameters)
            return false;
        VBuffer<float>[] centroids = null!;
        parameters.GetClusterCentroids(ref centroids, out int k);
        int d = centroids[0].Length;
        var flat = new float[k * d];
        for (int c = 0; c < k; c++)
            centroids[c].CopyTo(flat, c * d);
        var model = KMeansModel.FromCentroids(flat, d);
        converted = new GpuKMeansTransformer(model, single.FeatureColumnName, single.FeatureColumnType, blockRows,
            new ScoringDevice(device, ComputePrecision.Float32, NumberOfThreads: null), summary: null);
        return true;
    }
}
