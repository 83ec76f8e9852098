namespace FlashKMeans.MLNet.Onnx;

/// <summary>
/// Builds an ONNX model (opset 13) node by node and writes its file: the graph's inputs, outputs, constant tensors
/// (initializers) and operator nodes, with the field numbers of onnx.proto. Only what the prototype models' graphs use.
/// </summary>
internal sealed class OnnxGraph
{
    /// <summary>ONNX tensor element types (TensorProto.DataType).</summary>
    public enum ElementType
    {
        Float = 1,
        Int64 = 7,
        Bool = 9,
    }

    private readonly List<ProtobufWriter> _nodes = [];
    private readonly List<ProtobufWriter> _initializers = [];
    private readonly List<ProtobufWriter> _inputs = [];
    private readonly List<ProtobufWriter> _outputs = [];
    private readonly Dictionary<string, string> _metadata = [];
    private int _names;

    /// <summary>A fresh name for an intermediate value.</summary>
    public string Name(string hint) => $"{hint}_{_names++}";

    /// <summary>Declares a graph input or output of the given element type and shape (an empty shape is a scalar).</summary>
    public void Input(string name, ElementType type, params long[] shape) => _inputs.Add(ValueInfo(name, type, shape));

    public void Output(string name, ElementType type, params long[] shape) => _outputs.Add(ValueInfo(name, type, shape));

    /// <summary>A key-value pair in the model's metadata.</summary>
    public void Metadata(string key, string value) => _metadata[key] = value;

    /// <summary>A constant float tensor; returns its name.</summary>
    public string Constant(string hint, ReadOnlySpan<float> values, params long[] shape)
    {
        string name = Name(hint);
        _initializers.Add(Tensor(name, ElementType.Float, shape).PackedFloats(4, values));
        return name;
    }

    /// <summary>A constant int64 tensor; returns its name.</summary>
    public string Constant(string hint, IEnumerable<long> values, params long[] shape)
    {
        string name = Name(hint);
        _initializers.Add(Tensor(name, ElementType.Int64, shape).PackedInts(7, values));
        return name;
    }

    /// <summary>Adds a node; returns the name of its first output.</summary>
    public string Node(string op, string[] inputs, Action<Attributes>? attributes = null, int outputs = 1) => NodeOutputs(op, inputs, attributes, outputs)[0];

    /// <summary>Adds a node with several outputs; returns their names.</summary>
    public string[] NodeOutputs(string op, string[] inputs, Action<Attributes>? attributes = null, int outputs = 1)
    {
        var names = Enumerable.Range(0, outputs).Select(_ => Name(op)).ToArray();
        Emit(op, inputs, names, attributes);
        return names;
    }

    /// <summary>Adds a node whose single output has the given name (a graph output).</summary>
    public void NodeInto(string output, string op, string[] inputs, Action<Attributes>? attributes = null) => Emit(op, inputs, [output], attributes);

    private void Emit(string op, string[] inputs, string[] outputs, Action<Attributes>? attributes)
    {
        var node = new ProtobufWriter();
        foreach (var input in inputs)
            node.String(1, input);
        foreach (var output in outputs)
            node.String(2, output);
        node.String(3, outputs[0]).String(4, op);
        var set = new Attributes(node);
        attributes?.Invoke(set);
        _nodes.Add(node);
    }

    /// <summary>The model file's bytes.</summary>
    public byte[] ToBytes(string producer)
    {
        var graph = new ProtobufWriter();
        foreach (var node in _nodes)
            graph.Message(1, node);
        graph.String(2, "flashkmeans");
        foreach (var initializer in _initializers)
            graph.Message(5, initializer);
        foreach (var input in _inputs)
            graph.Message(11, input);
        foreach (var output in _outputs)
            graph.Message(12, output);
        var model = new ProtobufWriter()
            .Int(1, 8)                       // ir_version 8 (ONNX 1.10 and later)
            .String(2, producer)
            .Message(7, graph)
            .Message(8, new ProtobufWriter().String(1, "").Int(2, 13));  // opset_import: the default domain at 13
        foreach (var (key, value) in _metadata)
            model.Message(14, new ProtobufWriter().String(1, key).String(2, value));
        return model.ToArray();
    }

    /// <summary>A node's attributes (AttributeProto).</summary>
    public sealed class Attributes(ProtobufWriter node)
    {
        public Attributes Int(string name, long value)
        {
            node.Message(5, new ProtobufWriter().String(1, name).Int(3, value).Int(20, 2));
            return this;
        }

        public Attributes Float(string name, float value)
        {
            node.Message(5, new ProtobufWriter().String(1, name).Float(2, value).Int(20, 1));
            return this;
        }

        public Attributes Ints(string name, params long[] values)
        {
            var attribute = new ProtobufWriter().String(1, name);
            foreach (long v in values)
                attribute.Int(8, v);
            node.Message(5, attribute.Int(20, 7));
            return this;
        }
    }

    private static ProtobufWriter Tensor(string name, ElementType type, long[] shape)
    {
        var tensor = new ProtobufWriter();
        foreach (long dim in shape)
            tensor.Int(1, dim);
        return tensor.Int(2, (int)type).String(8, name);
    }

    private static ProtobufWriter ValueInfo(string name, ElementType type, long[] shape)
    {
        var dims = new ProtobufWriter();
        foreach (long dim in shape)
            dims.Message(1, new ProtobufWriter().Int(1, dim));
        var tensorType = new ProtobufWriter().Int(1, (int)type).Message(2, dims);
        return new ProtobufWriter().String(1, name).Message(2, new ProtobufWriter().Message(1, tensorType));
    }
}
