using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;

namespace FlashKMeans.MLNet.Tests;

/// <summary>
/// The conversion between our transformer and ML.NET's own KMeans transformer: offline these exercise the
/// reflection route against the contract's identical internal signatures; with the real package, ML.NET's types.
/// </summary>
[TestClass]
public sealed class ModelBridgeTests
{
    private const int D = 6;

    private static (GpuKMeansTransformer Model, float[] Rows) Train(int k = 5, KMeansDistance distance = KMeansDistance.SquaredEuclidean)
    {
        var (rows, _) = Blobs.Make(600, D, k, 5, seed: 17);
        var options = new GpuKMeansTrainer.Options { NumberOfClusters = k, Device = ComputeDevice.Cpu, Distance = distance, FeatureColumnName = "Features" };
        return (new MLContext().Clustering.Trainers.FlashKMeans(options).Fit(new TestDataView(rows, D)), rows);
    }

    [TestMethod]
    public void MLNetModelHoldsTheSameCentroidsInTheSameOrder()
    {
        var (model, _) = Train();
        var mlnet = model.ToMLNetTransformer();
        Assert.AreEqual("Features", mlnet.FeatureColumnName);
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, D), mlnet.FeatureColumnType);
        VBuffer<float>[] centroids = null!;
        mlnet.Model.GetClusterCentroids(ref centroids, out int k);
        Assert.AreEqual(5, k);
        var ours = model.GetCentroids();
        for (int c = 0; c < k; c++)
        {
            var dense = new float[D];
            centroids[c].CopyTo(dense);
            CollectionAssert.AreEqual(ours[c], dense, $"centroid {c}");
        }
        Assert.AreSame(mlnet.Model, model.Model, "the Model property mirrors ML.NET's transformer");
    }

    [TestMethod]
    public void ShapedFeatureVectorsKeepTheirTypeInTheMLNetModel()
    {
        var (rows, _) = Blobs.Make(300, D, 3, 5, seed: 18);
        var shaped = new VectorDataViewType(NumberDataViewType.Single, 2, 3);
        var view = new TestDataView(rows, D, featureType: shaped);
        var model = new MLContext().Clustering.Trainers.FlashKMeans(numberOfClusters: 3).Fit(view);
        Assert.AreEqual(shaped, model.FeatureColumnType);
        Assert.AreEqual(shaped, model.ToMLNetTransformer().FeatureColumnType);
        Assert.HasCount(300, Read.Keys(model.Transform(view)));
    }

    [TestMethod]
    public void ConvertingBackGivesIdenticalScoring()
    {
        var (model, rows) = Train();
        var back = model.ToMLNetTransformer().ToFlashKMeans(ComputeDevice.Cpu);
        Assert.AreNotSame(model, back);
        CollectionAssert.AreEqual(model.EngineModel.Centroids.ToArray(), back.EngineModel.Centroids.ToArray());
        var view = new TestDataView(rows, D);
        CollectionAssert.AreEqual(Read.Keys(model.Transform(view)), Read.Keys(back.Transform(view)));
        var a = Read.Scores(model.Transform(view));
        var b = Read.Scores(back.Transform(view));
        for (int i = 0; i < a.Length; i++)
            CollectionAssert.AreEqual(a[i], b[i]);
        Assert.IsNull(back.TrainingSummary);
    }

    [TestMethod]
    public void PipelinesGetFlashKMeansScoringBack()
    {
        var (model, _) = Train();
        var ml = new MLContext();
        var pipeline = new TransformerChain<ITransformer>(
            new TransformerChain<ITransformer>(model.ToMLNetTransformer()));
        var converted = pipeline.WithFlashKMeansScoring();
        var inner = (IEnumerable<ITransformer>)((IEnumerable<ITransformer>)converted).Single();
        Assert.IsInstanceOfType<GpuKMeansTransformer>(inner.Single());
        var e = Assert.ThrowsExactly<ArgumentException>(() => new TransformerChain<ITransformer>().WithFlashKMeansScoring());
        StringAssert.Contains(e.Message, "no ML.NET KMeans transformer");
        Assert.ThrowsExactly<ArgumentException>(() => ((ITransformer)pipeline).ToFlashKMeans());
    }

    [TestMethod]
    public void PipelinesCanBeTurnedIntoMLNetsOwnTypesAndBack()
    {
        var (model, _) = Train();
        var chain = new TransformerChain<ITransformer>(new TransformerChain<ITransformer>(model));
        var mlnet = chain.WithMLNetScoring();
        var inner = ((IEnumerable<ITransformer>)((IEnumerable<ITransformer>)mlnet).Single()).Single();
        Assert.IsInstanceOfType<ClusteringPredictionTransformer<KMeansModelParameters>>(inner);
        var back = ((IEnumerable<ITransformer>)((IEnumerable<ITransformer>)mlnet.WithFlashKMeansScoring()).Single()).Single();
        CollectionAssert.AreEqual(model.EngineModel.Centroids.ToArray(), ((GpuKMeansTransformer)back).EngineModel.Centroids.ToArray());
    }

    [TestMethod]
    public void CosineModelsCannotBecomeMLNetModels()
    {
        var (model, _) = Train(k: 3, distance: KMeansDistance.Cosine);
        var e = Assert.ThrowsExactly<NotSupportedException>(() => model.ToMLNetTransformer());
        StringAssert.Contains(e.Message, "Cosine");
    }
}
