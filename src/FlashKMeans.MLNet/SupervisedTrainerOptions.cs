namespace FlashKMeans.MLNet;

/// <summary>The columns every supervised FlashKMeans trainer reads, named as ML.NET's trainers name them.</summary>
public abstract class SupervisedTrainerOptions
{
    /// <summary>The feature column: a known-size vector of Single.</summary>
    public string FeatureColumnName = "Features";

    /// <summary>The label column (its type depends on the task).</summary>
    public string LabelColumnName = "Label";

    /// <summary>An optional scalar Single column of non-negative row weights.</summary>
    public string? ExampleWeightColumnName;

    /// <summary>Throws, naming the bad setting of the model's options.</summary>
    internal abstract void Validate();

    /// <summary>A copy that shares nothing mutable with this one.</summary>
    internal abstract SupervisedTrainerOptions Copy();
}
