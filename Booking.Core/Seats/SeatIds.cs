using System.Globalization;
using System.Text.RegularExpressions;

namespace Booking.Core.Seats;

/// <summary>Seat ids are <c>{section}-{row}-{number}</c>, e.g. <c>A-1-12</c>.</summary>
public static partial class SeatIds
{
    public static bool IsWellFormed(string? seatId) => seatId is not null && Pattern().IsMatch(seatId);

    public static string Section(string seatId) => seatId[..seatId.IndexOf('-', StringComparison.Ordinal)];

    /// <summary>Orders seats by section, then row and number as numbers (A-2-1 before A-10-1).</summary>
    public static int Compare(string? left, string? right)
    {
        if (left is null || right is null)
        {
            return string.CompareOrdinal(left, right);
        }

        var a = left.Split('-');
        var b = right.Split('-');
        var bySection = string.CompareOrdinal(a[0], b[0]);
        if (bySection != 0)
        {
            return bySection;
        }

        var byRow = int.Parse(a[1], CultureInfo.InvariantCulture).CompareTo(int.Parse(b[1], CultureInfo.InvariantCulture));
        return byRow != 0 ? byRow : int.Parse(a[2], CultureInfo.InvariantCulture).CompareTo(int.Parse(b[2], CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"^[A-Za-z0-9]{1,8}-[0-9]{1,4}-[0-9]{1,4}\z")]
    private static partial Regex Pattern();
}
