// Loads a model zip with plain ML.NET, scores rows of float32 features and prints one line per row:
//   <Score values, space-separated> | <PredictedLabel: the key, or 0/1 per tag; empty when the model has none>
//   FlashKMeans.PortableModelCheck MODEL.zip FEATURES.f32 DIMENSION FEATURE_COLUMN
using Microsoft.ML;
using Microsoft.ML.Data;

if (args.Length != 4)
{
    Console.Error.WriteLine("usage: FlashKMeans.PortableModelCheck MODEL.zip FEATURES.f32 DIMENSION FEATURE_COLUMN");
    return 2;
}
var ml = new MLContext(seed: 0);
var model = ml.Model.Load(args[0], out _);
int d = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
var values = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(args[1])).ToArray();
var definition = SchemaDefinition.Create(typeof(Row));
definition[0].ColumnName = args[3];
definition[0].ColumnType = new VectorDataViewType(NumberDataViewType.Single, d);
var rows = Enumerable.Range(0, values.Length / d).Select(r => new Row { Features = values.AsSpan(r * d, d).ToArray() });
var scored = model.Transform(ml.Data.LoadFromEnumerable(rows, definition));

var scoreColumn = scored.Schema["Score"];
var labelColumn = scored.Schema.GetColumnOrNull("PredictedLabel");
using var cursor = scored.GetRowCursor(labelColumn is { } l ? [scoreColumn, l] : [scoreColumn]);
Func<string> score = scoreColumn.Type is VectorDataViewType
    ? VectorText<float>(cursor, scoreColumn)
    : ScalarText<float>(cursor, scoreColumn);
Func<string> label = labelColumn switch
{
    null => () => "",
    { Type: VectorDataViewType } column => VectorText<bool>(cursor, column),
    { } column => ScalarText<uint>(cursor, column),
};
using var output = new StreamWriter(Console.OpenStandardOutput());
while (cursor.MoveNext())
    output.WriteLine($"{score()} | {label()}");
return 0;

static Func<string> ScalarText<T>(DataViewRowCursor cursor, DataViewSchema.Column column)
{
    var getter = cursor.GetGetter<T>(column);
    return () =>
    {
        T value = default!;
        getter(ref value);
        return Text(value);
    };
}

static Func<string> VectorText<T>(DataViewRowCursor cursor, DataViewSchema.Column column)
{
    var getter = cursor.GetGetter<VBuffer<T>>(column);
    return () =>
    {
        VBuffer<T> value = default;
        getter(ref value);
        return string.Join(" ", value.DenseValues().Select(Text));
    };
}

static string Text<T>(T value) => value switch
{
    float f => f.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
    bool b => b ? "1" : "0",
    _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "",
};

internal sealed class Row
{
    public float[] Features { get; set; } = [];
}
