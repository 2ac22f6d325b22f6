/// A moving average of the last `window` vectors of equal length (one value per prompt), in O(length) per push.
/// A window of 1 passes values through unchanged.
public struct MovingAverage: Sendable {
    public let window: Int
    private var history: [[Float]] = []
    private var sums: [Double] = []
    private var next = 0

    public init(window: Int) {
        precondition(window >= 1, "a moving average needs a window of at least 1, not \(window)")
        self.window = window
    }

    /// Adds `values` and returns the mean of the last `window` pushes (fewer at the start). A push of another
    /// length starts the average again.
    public mutating func push(_ values: [Float]) -> [Float] {
        if window == 1 { return values }
        if sums.count != values.count { reset() }
        if sums.isEmpty { sums = [Double](repeating: 0, count: values.count) }
        if history.count == window {
            for i in values.indices { sums[i] -= Double(history[next][i]) }
            history[next] = values
            next = (next + 1) % window
        } else {
            history.append(values)
        }
        for i in values.indices { sums[i] += Double(values[i]) }
        let count = Double(history.count)
        return sums.map { Float($0 / count) }
    }

    /// Forgets every value pushed so far.
    public mutating func reset() {
        history.removeAll(keepingCapacity: true)
        sums = []
        next = 0
    }
}
