using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace FlashKMeans.Tests.Structure;

/// <summary>
/// Which namespaces of an assembly use which, read from its compiled metadata: base types, interfaces, the types in
/// field, method and local signatures, and every type, method and field a method body names, through any generic
/// instantiation. Documentation references and <c>using</c> directives leave nothing in the metadata and so are not
/// uses. Only namespaces under a given prefix count, so the framework and other packages are left out.
/// </summary>
internal sealed class NamespaceGraph
{
    private readonly Dictionary<(string From, string To), List<string>> _edges = [];

    private NamespaceGraph() { }

    /// <summary>Every use from one namespace of another: the pair, and up to three members that make it.</summary>
    public IReadOnlyDictionary<(string From, string To), List<string>> Edges => _edges;

    public static NamespaceGraph Read(string assemblyPath, string prefix)
    {
        var graph = new NamespaceGraph();
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        new Walker(pe, pe.GetMetadataReader(), prefix, graph).Walk();
        return graph;
    }

    /// <summary>The sets of two or more namespaces that reach one another (Tarjan's strongly connected components).</summary>
    public IReadOnlyList<IReadOnlyList<string>> Cycles()
    {
        var nodes = _edges.Keys.SelectMany(e => new[] { e.From, e.To }).Distinct().Order(StringComparer.Ordinal).ToList();
        var next = nodes.ToDictionary(n => n, n => _edges.Keys.Where(e => e.From == n).Select(e => e.To).Order(StringComparer.Ordinal).ToList());
        var index = new Dictionary<string, int>();
        var low = new Dictionary<string, int>();
        var stack = new Stack<string>();
        var onStack = new HashSet<string>();
        var cycles = new List<IReadOnlyList<string>>();
        void Visit(string v)
        {
            index[v] = low[v] = index.Count;
            stack.Push(v);
            onStack.Add(v);
            foreach (string w in next[v])
            {
                if (!index.ContainsKey(w))
                {
                    Visit(w);
                    low[v] = Math.Min(low[v], low[w]);
                }
                else if (onStack.Contains(w))
                    low[v] = Math.Min(low[v], index[w]);
            }
            if (low[v] != index[v])
                return;
            var component = new List<string>();
            string x;
            do
            {
                x = stack.Pop();
                onStack.Remove(x);
                component.Add(x);
            } while (x != v);
            if (component.Count > 1)
                cycles.Add(component.Order(StringComparer.Ordinal).ToList());
        }
        foreach (string n in nodes)
        {
            if (!index.ContainsKey(n))
                Visit(n);
        }
        return cycles;
    }

    /// <summary>The uses among <paramref name="component"/>'s namespaces, one per line, for a failure message.</summary>
    public string Describe(IReadOnlyList<string> component) => string.Join("\n", _edges
        .Where(e => component.Contains(e.Key.From) && component.Contains(e.Key.To))
        .OrderBy(e => e.Key.From, StringComparer.Ordinal).ThenBy(e => e.Key.To, StringComparer.Ordinal)
        .Select(e => $"  {e.Key.From} -> {e.Key.To}: {string.Join("; ", e.Value)}"));

    private void Add(string from, string to, string member)
    {
        if (from == to)
            return;
        if (!_edges.TryGetValue((from, to), out var members))
            _edges[(from, to)] = members = [];
        if (members.Count < 3 && !members.Contains(member))
            members.Add(member);
    }

    private static IEnumerable<string[]> Parts(MethodSignature<string[]> signature) => signature.ParameterTypes.Prepend(signature.ReturnType);

    private sealed class Walker(PEReader pe, MetadataReader md, string prefix, NamespaceGraph graph)
    {
        private static readonly Dictionary<int, OpCode> OpCodesByValue = typeof(OpCodes)
            .GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => (OpCode)f.GetValue(null)!)
            .ToDictionary(o => (int)(ushort)o.Value);

        private readonly TypeNamespaces _types = new(md);

        public void Walk()
        {
            foreach (var handle in md.TypeDefinitions)
            {
                var type = md.GetTypeDefinition(handle);
                if (TypeNamespaces.Of(md, handle) is not { } ns)
                    continue;
                string name = md.GetString(type.Name);
                if (!type.BaseType.IsNil)
                    Add(ns, Namespaces(type.BaseType), name);
                foreach (var i in type.GetInterfaceImplementations())
                    Add(ns, Namespaces(md.GetInterfaceImplementation(i).Interface), name);
                foreach (var f in type.GetFields())
                    Add(ns, Signature(md.GetFieldDefinition(f).Signature), name);
                foreach (var m in type.GetMethods())
                    Method(ns, name, md.GetMethodDefinition(m));
            }
        }

        private void Add(string from, IEnumerable<string> used, string member)
        {
            foreach (string to in used)
            {
                if (to.StartsWith(prefix, StringComparison.Ordinal))
                    graph.Add(from, to, member);
            }
        }

        private void Method(string ns, string typeName, MethodDefinition method)
        {
            string member = $"{typeName}.{md.GetString(method.Name)}";
            Add(ns, Signature(method.Signature), member);
            if (method.RelativeVirtualAddress == 0)
                return;
            var body = pe.GetMethodBody(method.RelativeVirtualAddress);
            if (!body.LocalSignature.IsNil)
                Add(ns, Signature(md.GetStandaloneSignature(body.LocalSignature).Signature), member);
            var il = body.GetILReader();
            while (il.RemainingBytes > 0)
            {
                int code = il.ReadByte();
                if (code == 0xFE)
                    code = 0xFE00 | il.ReadByte();
                switch (OpCodesByValue[code].OperandType)
                {
                    case OperandType.InlineNone:
                        break;
                    case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                        il.Offset += 1;
                        break;
                    case OperandType.InlineVar:
                        il.Offset += 2;
                        break;
                    case OperandType.InlineI8 or OperandType.InlineR:
                        il.Offset += 8;
                        break;
                    case OperandType.InlineSwitch:
                        int targets = il.ReadInt32();  // read first: `il.Offset += 4 * il.ReadInt32()` would add to the offset before the read
                        il.Offset += 4 * targets;
                        break;
                    case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineTok or OperandType.InlineType:
                        Add(ns, Namespaces(MetadataTokens.EntityHandle(il.ReadInt32())), member);
                        break;
                    default:
                        il.Offset += 4;  // branch targets, 32-bit constants, strings and call-site signatures
                        break;
                }
            }
        }

        /// <summary>The namespaces of the types defined here that a field, method, property or locals signature names.</summary>
        private IEnumerable<string> Signature(BlobHandle signature)
        {
            var reader = md.GetBlobReader(signature);
            var kind = reader.ReadSignatureHeader().Kind;
            reader.Reset();
            var decoder = new SignatureDecoder<string[], object?>(_types, md, genericContext: null);
            IEnumerable<string[]> types = kind switch
            {
                SignatureKind.Field => [decoder.DecodeFieldSignature(ref reader)],
                SignatureKind.LocalVariables => decoder.DecodeLocalSignature(ref reader),
                SignatureKind.Method or SignatureKind.Property => Parts(decoder.DecodeMethodSignature(ref reader)),
                _ => [],
            };
            return types.SelectMany(t => t);
        }

        /// <summary>The namespaces of the types defined here that a type, method or field handle names.</summary>
        private IEnumerable<string> Namespaces(EntityHandle handle)
        {
            switch (handle.Kind)
            {
                case HandleKind.TypeDefinition:
                    return TypeNamespaces.Of(md, (TypeDefinitionHandle)handle) is { } ns ? [ns] : [];
                case HandleKind.TypeSpecification:
                    return md.GetTypeSpecification((TypeSpecificationHandle)handle).DecodeSignature(_types, null);
                case HandleKind.MethodDefinition:
                    return Namespaces(md.GetMethodDefinition((MethodDefinitionHandle)handle).GetDeclaringType());
                case HandleKind.FieldDefinition:
                    return Namespaces(md.GetFieldDefinition((FieldDefinitionHandle)handle).GetDeclaringType());
                case HandleKind.MemberReference:
                {
                    var reference = md.GetMemberReference((MemberReferenceHandle)handle);
                    return reference.Parent.Kind is HandleKind.TypeDefinition or HandleKind.TypeSpecification
                        ? Namespaces((EntityHandle)reference.Parent).Concat(Signature(reference.Signature))
                        : Signature(reference.Signature);
                }
                case HandleKind.MethodSpecification:
                {
                    var specification = md.GetMethodSpecification((MethodSpecificationHandle)handle);
                    return Namespaces(specification.Method).Concat(specification.DecodeSignature(_types, null).SelectMany(t => t));
                }
                default:
                    return [];  // types of other assemblies
            }
        }
    }

    /// <summary>Decodes a signature into the namespaces of the types defined in this assembly that it names.</summary>
    private sealed class TypeNamespaces(MetadataReader md) : ISignatureTypeProvider<string[], object?>
    {
        /// <summary>The namespace of a type, or of the type that encloses a nested one; null for the global &lt;Module&gt; type.</summary>
        public static string? Of(MetadataReader md, TypeDefinitionHandle handle)
        {
            var type = md.GetTypeDefinition(handle);
            var declaring = type.GetDeclaringType();
            if (!declaring.IsNil)
                return Of(md, declaring);
            string ns = md.GetString(type.Namespace);
            return ns.Length == 0 ? null : ns;
        }

        public string[] GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) =>
            Of(md, handle) is { } ns ? [ns] : [];
        public string[] GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) => [];
        public string[] GetTypeFromSpecification(MetadataReader reader, object? genericContext, TypeSpecificationHandle handle, byte rawTypeKind) =>
            reader.GetTypeSpecification(handle).DecodeSignature(this, genericContext);
        public string[] GetGenericInstantiation(string[] genericType, ImmutableArray<string[]> typeArguments) =>
            [.. genericType, .. typeArguments.SelectMany(t => t)];
        public string[] GetArrayType(string[] elementType, ArrayShape shape) => elementType;
        public string[] GetSZArrayType(string[] elementType) => elementType;
        public string[] GetByReferenceType(string[] elementType) => elementType;
        public string[] GetPointerType(string[] elementType) => elementType;
        public string[] GetPinnedType(string[] elementType) => elementType;
        public string[] GetModifiedType(string[] modifier, string[] unmodifiedType, bool isRequired) => unmodifiedType;
        public string[] GetFunctionPointerType(MethodSignature<string[]> signature) => [.. Parts(signature).SelectMany(t => t)];
        public string[] GetGenericMethodParameter(object? genericContext, int index) => [];
        public string[] GetGenericTypeParameter(object? genericContext, int index) => [];
        public string[] GetPrimitiveType(PrimitiveTypeCode typeCode) => [];
    }
}
