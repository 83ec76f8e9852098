using FlashKMeans.Prototypes;
using static FlashKMeans.MLNet.Onnx.OnnxGraph;

namespace FlashKMeans.MLNet.Onnx;

/// <summary>
/// The prototype models' predictions as ONNX graphs over one row (ML.NET's <c>OnnxTransformer</c> feeds rows one at a
/// time): the distances to every prototype, the top-k routing and each model's blend, computed as the engine computes
/// them. A row with a NaN feature gets NaN scores (and no tags), as the in-memory transformers give it. Outputs are
/// vectors: ML.NET's ONNX scoring fails on scalar outputs.
/// </summary>
internal static class PrototypeGraphs
{
    /// <summary>The classifier: outputs <paramref name="scoreName"/>, C floats, each class's summed routing weight.</summary>
    public static byte[] Classifier(PrototypeClassifierModel model, string featureName, string scoreName)
    {
        var o = model.Settings;
        var g = new OnnxGraph();
        g.Input(featureName, ElementType.Float, model.Dimension);
        int p = model.PrototypeClasses.Count, c = model.ClassCount;
        var distances = Distances(g, featureName, model.Prototypes.ToArray(), model.Dimension, model.Distance, model.FeatureWeights.ToArray(), Ignores(model.Settings));
        var (weights, nearest) = Route(g, distances, o.TopK == -1 ? p : Math.Min(o.TopK, p), o.Routing, o.Temperature);
        var oneHot = new float[p * c];
        for (int i = 0; i < p; i++)
            oneHot[i * c + model.PrototypeClasses[i]] = 1;
        var perClass = g.Node("Gather", [g.Constant("classes", oneHot, p, c), nearest], a => a.Int("axis", 0));
        var scores = g.Node("MatMul", [weights, perClass]);
        g.NodeInto(scoreName, "Where", [Missing(g, featureName, Ignores(model.Settings)), g.Constant("nan", [float.NaN], 1), scores]);
        g.Output(scoreName, ElementType.Float, c);
        g.Metadata(ModelDescription.MetadataKey, ModelDescription.Of(model, featureName).ToJson());
        return g.ToBytes("FlashKMeans prototype classifier");
    }

    /// <summary>The regressor: outputs <paramref name="scoreName"/>, t floats (one for scalar targets).</summary>
    public static byte[] Regressor(PrototypeRegressorModel model, string featureName, string scoreName)
    {
        var o = model.Settings;
        var g = new OnnxGraph();
        g.Input(featureName, ElementType.Float, model.Dimension);
        int t = model.TargetDimension, p = model.PrototypeTargets.Length / t;
        var distances = Distances(g, featureName, model.Prototypes.ToArray(), model.Dimension, model.Distance, model.FeatureWeights.ToArray(), Ignores(model.Settings));
        var (weights, nearest) = Route(g, distances, o.TopK == -1 ? p : Math.Min(o.TopK, p), o.Routing, o.Temperature);
        var targets = g.Node("Gather", [g.Constant("targets", model.PrototypeTargets.Span, p, t), nearest], a => a.Int("axis", 0));
        var prediction = g.Node("MatMul", [weights, targets]);
        g.NodeInto(scoreName, "Where", [Missing(g, featureName, Ignores(model.Settings)), g.Constant("nan", [float.NaN], 1), prediction]);
        g.Output(scoreName, ElementType.Float, t);
        g.Metadata(ModelDescription.MetadataKey, ModelDescription.Of(model, featureName).ToJson());
        return g.ToBytes("FlashKMeans prototype regressor");
    }

    /// <summary>
    /// The multi-label classifier: outputs <paramref name="scoreName"/> (T floats, each tag's largest similarity) and
    /// <paramref name="tagsName"/> (T booleans, by the model's threshold rule).
    /// </summary>
    public static byte[] MultiLabel(MultiLabelModel model, string featureName, string scoreName, string tagsName)
    {
        var o = model.Settings;
        var g = new OnnxGraph();
        g.Input(featureName, ElementType.Float, model.Dimension);
        int p = model.PrototypeTags.Count, t = model.TagCount;
        var distances = Distances(g, featureName, model.Prototypes.ToArray(), model.Dimension, model.Distance, model.FeatureWeights.ToArray(), Ignores(model.Settings));
        var similarity = g.Node("Reciprocal", [g.Node("Add", [distances, g.Constant("one", [1f])])]);
        var oneHot = new float[p * t];
        for (int i = 0; i < p; i++)
            oneHot[i * t + model.PrototypeTags[i]] = 1;
        // Similarities are positive, so the largest of s × one-hot per tag is the largest among the tag's prototypes, and 0
        // for a tag without any, as the engine scores it.
        var spread = g.Node("Mul", [g.Node("Unsqueeze", [similarity, g.Constant("axis1", [1L], 1)]), g.Constant("tags", oneHot, p, t)]);
        var scores = g.Node("ReduceMax", [spread], a => a.Ints("axes", 0).Int("keepdims", 0));
        var missing = Missing(g, featureName, Ignores(model.Settings));
        g.NodeInto(scoreName, "Where", [missing, g.Constant("nan", [float.NaN], 1), scores]);
        g.Output(scoreName, ElementType.Float, t);
        string chosen;
        if (o.Threshold == TagThreshold.Fixed)
        {
            chosen = g.Node("GreaterOrEqual", [scores, g.Constant("threshold", [(float)o.FixedThreshold])]);
        }
        else if (t == 1)
        {
            chosen = g.Node("Cast", [g.Constant("all", [1L], 1)], a => a.Int("to", (int)ElementType.Bool));
        }
        else
        {
            // The gap rule: sort descending (ties keep the lower tag first, as TopK guarantees), cut after the largest drop
            // of log(score + 1e-30), and scatter the kept ranks back to tag order.
            var sorted = g.NodeOutputs("TopK", [scores, g.Constant("all_tags", [(long)t], 1)], a => a.Int("axis", 0).Int("largest", 1).Int("sorted", 1), 2);
            var logs = g.Node("Log", [g.Node("Add", [sorted[0], g.Constant("tiny", [1e-30f])])]);
            var head = g.Node("Slice", [logs, g.Constant("from0", [0L], 1), g.Constant("to_last", [(long)t - 1], 1)]);
            var tail = g.Node("Slice", [logs, g.Constant("from1", [1L], 1), g.Constant("to_end", [(long)t], 1)]);
            var keep = g.Node("Add", [g.Node("ArgMax", [g.Node("Sub", [head, tail])], a => a.Int("axis", 0).Int("keepdims", 1)), g.Constant("one_rank", [1L], 1)]);
            var kept = g.Node("Less", [g.Constant("ranks", Enumerable.Range(0, t).Select(i => (long)i), t), keep]);
            var none = g.Node("Cast", [g.Constant("zeros", new long[t], t)], a => a.Int("to", (int)ElementType.Bool));
            chosen = g.Node("ScatterElements", [none, sorted[1], kept], a => a.Int("axis", 0));
        }
        g.NodeInto(tagsName, "And", [g.Node("Not", [missing]), chosen]);
        g.Output(tagsName, ElementType.Bool, t);
        g.Metadata(ModelDescription.MetadataKey, ModelDescription.Of(model, featureName).ToJson());
        return g.ToBytes("FlashKMeans multi-label classifier");
    }

    /// <summary>
    /// The row's distance to each prototype ([P]): squared Euclidean from differences (exact wherever the data lies, as
    /// the engine's centred scoring), weighted by learned feature weights when the model has them; 1 − cos for cosine;
    /// the sum of absolute differences for L1.
    /// </summary>
    private static string Distances(OnnxGraph g, string x, float[] prototypes, int d, KMeansDistance distance, float[] featureWeights, bool ignoreMissing)
    {
        int p = prototypes.Length / d;
        var grid = g.Constant("prototypes", prototypes, p, d);
        var axis1 = g.Constant("axis1", [1L], 1);
        switch (distance)
        {
            case KMeansDistance.Cosine:
            {
                var norm = g.Node("ReduceL2", [x], a => a.Ints("axes", 0).Int("keepdims", 1));
                var unit = g.Node("Div", [x, norm]);
                return g.Node("Sub", [g.Constant("one", [1f]), g.Node("MatMul", [grid, unit])]);
            }
            case KMeansDistance.Manhattan:
                return g.Node("ReduceSum", [g.Node("Abs", [g.Node("Sub", [x, grid])]), axis1], a => a.Int("keepdims", 0));
            default:
            {
                if (ignoreMissing)
                {
                    // Over the features present, scaled by d / (features present), as the engine measures such rows.
                    var missing = g.Node("IsNaN", [x]);
                    var zero = g.Constant("zero", [0f]);
                    var present = g.Node("Where", [missing, zero, x]);
                    var gaps = g.Node("Sub", [present, grid]);
                    var sum = g.Node("ReduceSum", [g.Node("Where", [missing, zero, g.Node("Mul", [gaps, gaps])]), axis1], a => a.Int("keepdims", 0));
                    var count = g.Node("Sub", [g.Constant("features", [(float)d]),
                        g.Node("ReduceSum", [g.Node("Cast", [missing], a => a.Int("to", (int)ElementType.Float)), g.Constant("axis0", [0L], 1)], a => a.Int("keepdims", 0))]);
                    return g.Node("Mul", [sum, g.Node("Div", [g.Constant("features", [(float)d]), count])]);
                }
                var difference = g.Node("Sub", [x, grid]);
                var squares = g.Node("Mul", [difference, difference]);
                if (featureWeights.Length > 0)
                    squares = g.Node("Mul", [squares, g.Constant("feature_weights", featureWeights, d)]);
                return g.Node("ReduceSum", [squares, axis1], a => a.Int("keepdims", 0));
            }
        }
    }

    /// <summary>The top <paramref name="k"/> prototypes (nearest first, ties to the lower index) and their routing weights ([k] each).</summary>
    private static (string Weights, string Nearest) Route(OnnxGraph g, string distances, int k, PrototypeRouting routing, double temperature)
    {
        var top = g.NodeOutputs("TopK", [g.Node("Neg", [distances]), g.Constant("k", [(long)k], 1)], a => a.Int("axis", 0).Int("largest", 1).Int("sorted", 1), 2);
        var nearestDistances = g.Node("Neg", [top[0]]);
        var similarity = g.Node("Reciprocal", [g.Node("Add", [nearestDistances, g.Constant("one", [1f])])]);
        string weights = routing switch
        {
            PrototypeRouting.Hard => g.Constant("first", Enumerable.Range(0, k).Select(i => i == 0 ? 1f : 0f).ToArray(), k),
            PrototypeRouting.Mean => g.Constant("equal", Enumerable.Repeat(1f / k, k).ToArray(), k),
            PrototypeRouting.Scaled => g.Node("Div", [similarity, g.Node("ReduceSum", [similarity, g.Constant("axis0", [0L], 1)], a => a.Int("keepdims", 1))]),
            _ => g.Node("Softmax", [g.Node("Div", [similarity, g.Constant("temperature", [(float)temperature])])], a => a.Int("axis", 0)),
        };
        return (weights, top[1]);
    }

    /// <summary>
    /// Whether the model cannot score the row (a scalar boolean): a NaN or infinite feature, or, where NaN means missing,
    /// an infinite feature or no feature at all.
    /// </summary>
    private static string Missing(OnnxGraph g, string x, bool ignoreMissing)
    {
        var axis0 = g.Constant("axis0", [0L], 1);
        if (!ignoreMissing)
        {
            var sum = g.Node("ReduceSum", [x, axis0], a => a.Int("keepdims", 0));
            return g.Node("Or", [g.Node("IsNaN", [sum]), g.Node("IsInf", [sum])]);
        }
        var missing = g.Node("IsNaN", [x]);
        var presentSum = g.Node("ReduceSum", [g.Node("Where", [missing, g.Constant("zero", [0f]), x]), axis0], a => a.Int("keepdims", 0));
        var count = g.Node("ReduceSum", [g.Node("Cast", [g.Node("Not", [missing])], a => a.Int("to", (int)ElementType.Float)), axis0], a => a.Int("keepdims", 0));
        var infinite = g.Node("Or", [g.Node("IsNaN", [presentSum]), g.Node("IsInf", [presentSum])]);
        return g.Node("Or", [infinite, g.Node("Equal", [count, g.Constant("none", [0f])])]);
    }

    private static bool Ignores(PrototypeGridOptions options) => options.MissingFeatures == MissingFeatures.Ignore;
}
