using System.Globalization;
using System.Text;

namespace InputPipeline.Checkpointing.Pipeline.Internal;

/// <summary>
/// The description of one operator or source of a pipeline: its kind, its parameters (in a fixed order) and its inputs.
/// The tree is saved in the state's header and compared with the restoring pipeline's, so a differently built pipeline
/// is reported, naming the first difference, instead of restoring garbage.
/// </summary>
internal sealed class StructureNode
{
    private const int MaxDepth = 512;
    private const int MaxCount = 1 << 24;

    public StructureNode(string kind, IReadOnlyList<StructureParameter> parameters, IReadOnlyList<StructureNode> inputs)
    {
        Kind = kind;
        Parameters = parameters;
        Inputs = inputs;
    }

    public string Kind { get; }

    public IReadOnlyList<StructureParameter> Parameters { get; }

    public IReadOnlyList<StructureNode> Inputs { get; }

    public static StructureNode Create(string kind, params StructureNode[] inputs) => new(kind, [], inputs);

    public static StructureNode Create(string kind, IReadOnlyList<StructureParameter> parameters, params StructureNode[] inputs) =>
        new(kind, parameters, inputs);

    /// <summary>Renders the node alone: <c>shuffle(buffer=1000,seed=7)</c>.</summary>
    public string Self()
    {
        var builder = new StringBuilder(Kind);
        builder.Append('(');
        for (int i = 0; i < Parameters.Count; i++)
        {
            if (i > 0)
            {
                builder.Append(',');
            }

            builder.Append(Parameters[i].Render());
        }

        return builder.Append(')').ToString();
    }

    /// <summary>Renders the whole pipeline as a data flow: <c>range(start=0,end=10,step=1) | shuffle(buffer=4,seed=7)</c>.</summary>
    public override string ToString()
    {
        var builder = new StringBuilder();
        Render(builder);
        return builder.ToString();
    }

    public void Write(StateWriter writer)
    {
        writer.WriteString(Kind);
        writer.WriteInt32(Parameters.Count);
        foreach (StructureParameter parameter in Parameters)
        {
            writer.WriteString(parameter.Name);
            if (parameter.List is { } list)
            {
                writer.WriteByte(1);
                writer.WriteInt32(list.Count);
                foreach (string item in list)
                {
                    writer.WriteString(item);
                }
            }
            else
            {
                writer.WriteByte(0);
                writer.WriteString(parameter.Value);
            }
        }

        writer.WriteInt32(Inputs.Count);
        foreach (StructureNode input in Inputs)
        {
            input.Write(writer);
        }
    }

    public static ValueTask<StructureNode> ReadAsync(StateReader reader, CancellationToken cancellationToken) =>
        ReadAsync(reader, 0, cancellationToken);

    /// <summary>Compares a saved tree with the pipeline's and describes the first difference, or returns <see langword="null"/> when equal.</summary>
    public static string? FindDifference(StructureNode saved, StructureNode current) => FindDifference(saved, current, []);

    private static string? FindDifference(StructureNode saved, StructureNode current, List<string> path)
    {
        string where = path.Count == 0 ? string.Empty : $" (inside {string.Join(" > ", path)})";
        if (!string.Equals(saved.Kind, current.Kind, StringComparison.Ordinal))
        {
            return $"saved {saved.Self()} but the pipeline has {current.Self()}{where}.";
        }

        int common = Math.Min(saved.Parameters.Count, current.Parameters.Count);
        for (int i = 0; i < common; i++)
        {
            StructureParameter a = saved.Parameters[i];
            StructureParameter b = current.Parameters[i];
            if (!string.Equals(a.Name, b.Name, StringComparison.Ordinal))
            {
                return $"saved {saved.Self()} but the pipeline has {current.Self()}{where}.";
            }

            string? difference = a.DescribeDifference(b);
            if (difference is not null)
            {
                return string.Format(CultureInfo.InvariantCulture, difference, saved.Kind) + where + ".";
            }
        }

        if (saved.Parameters.Count != current.Parameters.Count || saved.Inputs.Count != current.Inputs.Count)
        {
            return $"saved {saved.Self()} with {saved.Inputs.Count} input(s) but the pipeline has {current.Self()} with {current.Inputs.Count} input(s){where}.";
        }

        path.Add(saved.Kind);
        for (int i = 0; i < saved.Inputs.Count; i++)
        {
            string? difference = FindDifference(saved.Inputs[i], current.Inputs[i], path);
            if (difference is not null)
            {
                return difference;
            }
        }

        path.RemoveAt(path.Count - 1);
        return null;
    }

    private static async ValueTask<StructureNode> ReadAsync(StateReader reader, int depth, CancellationToken cancellationToken)
    {
        if (depth > MaxDepth)
        {
            throw new StateCorruptException($"the structure description is nested deeper than {MaxDepth} levels.");
        }

        string kind = await reader.ReadRequiredStringAsync("an operator kind", cancellationToken).ConfigureAwait(false);
        int parameterCount = await reader.ReadInt32Async(0, MaxCount, "a parameter count", cancellationToken).ConfigureAwait(false);
        var parameters = new List<StructureParameter>(Math.Min(parameterCount, 16));
        for (int i = 0; i < parameterCount; i++)
        {
            string name = await reader.ReadRequiredStringAsync("a parameter name", cancellationToken).ConfigureAwait(false);
            byte shape = await reader.ReadByteAsync(cancellationToken).ConfigureAwait(false);
            if (shape == 1)
            {
                int count = await reader.ReadInt32Async(0, MaxCount, "a parameter list length", cancellationToken).ConfigureAwait(false);
                var list = new List<string>(Math.Min(count, 1024));
                for (int j = 0; j < count; j++)
                {
                    list.Add(await reader.ReadRequiredStringAsync("a parameter list item", cancellationToken).ConfigureAwait(false));
                }

                parameters.Add(StructureParameter.Of(name, list));
            }
            else if (shape == 0)
            {
                parameters.Add(new StructureParameter(name, await reader.ReadRequiredStringAsync("a parameter value", cancellationToken).ConfigureAwait(false), null));
            }
            else
            {
                throw new StateCorruptException($"a parameter shape byte is {shape}.");
            }
        }

        int inputCount = await reader.ReadInt32Async(0, MaxCount, "an input count", cancellationToken).ConfigureAwait(false);
        var inputs = new List<StructureNode>(Math.Min(inputCount, 16));
        for (int i = 0; i < inputCount; i++)
        {
            inputs.Add(await ReadAsync(reader, depth + 1, cancellationToken).ConfigureAwait(false));
        }

        return new StructureNode(kind, parameters, inputs);
    }

    private void Render(StringBuilder builder)
    {
        if (Inputs.Count == 1)
        {
            Inputs[0].Render(builder);
            builder.Append(" | ");
        }
        else if (Inputs.Count > 1)
        {
            builder.Append('(');
            for (int i = 0; i < Inputs.Count; i++)
            {
                if (i > 0)
                {
                    builder.Append(" ; ");
                }

                Inputs[i].Render(builder);
            }

            builder.Append(") | ");
        }

        builder.Append(Self());
    }
}

/// <summary>One parameter of a <see cref="StructureNode"/>: a scalar value or a list (such as file names).</summary>
internal sealed record StructureParameter(string Name, string Value, IReadOnlyList<string>? List)
{
    private const int MaxShownItems = 8;

    public static StructureParameter Of(string name, string value) => new(name, value, null);

    public static StructureParameter Of(string name, long value) => new(name, value.ToString(CultureInfo.InvariantCulture), null);

    public static StructureParameter Of(string name, ulong value) => new(name, value.ToString(CultureInfo.InvariantCulture), null);

    public static StructureParameter Of(string name, bool value) => new(name, value ? "true" : "false", null);

    public static StructureParameter Of(string name, IReadOnlyList<string> list) => new(name, string.Empty, list);

    public string Render()
    {
        if (List is null)
        {
            return $"{Name}={Value}";
        }

        var builder = new StringBuilder(Name).Append("=[");
        for (int i = 0; i < List.Count && i < MaxShownItems; i++)
        {
            if (i > 0)
            {
                builder.Append(", ");
            }

            builder.Append(List[i]);
        }

        if (List.Count > MaxShownItems)
        {
            builder.Append(CultureInfo.InvariantCulture, $", … {List.Count - MaxShownItems} more");
        }

        return builder.Append(']').ToString();
    }

    /// <summary>Describes how <paramref name="current"/> differs from this saved parameter, with <c>{0}</c> standing for the operator kind; <see langword="null"/> when equal.</summary>
    public string? DescribeDifference(StructureParameter current)
    {
        if (List is null && current.List is null)
        {
            return string.Equals(Value, current.Value, StringComparison.Ordinal)
                ? null
                : $"saved {{0}}({Escape(Name)}={Escape(Value)}) but the pipeline has {{0}}({Escape(Name)}={Escape(current.Value)})";
        }

        IReadOnlyList<string> saved = List ?? [Value];
        IReadOnlyList<string> now = current.List ?? [current.Value];
        int common = Math.Min(saved.Count, now.Count);
        for (int i = 0; i < common; i++)
        {
            if (!string.Equals(saved[i], now[i], StringComparison.Ordinal))
            {
                return $"saved {{0}}({Escape(Name)}[{i}]={Escape(saved[i])}) but the pipeline has {{0}}({Escape(Name)}[{i}]={Escape(now[i])})";
            }
        }

        return saved.Count == now.Count
            ? null
            : $"saved {{0}}({Escape(Name)}: {saved.Count} entries) but the pipeline has {{0}}({Escape(Name)}: {now.Count} entries)";
    }

    private static string Escape(string text) => text.Replace("{", "{{", StringComparison.Ordinal).Replace("}", "}}", StringComparison.Ordinal);
}
