import ArgumentParser

/// Refuses `value` outside `range`, naming the option, the range and its unit:
/// "--smooth must be between 1 and 1000 (scored frames), not 9223372036854775807".
func check<Value: Comparable>(_ value: Value, in range: ClosedRange<Value>, option: String, unit: String) throws {
    guard range.contains(value) else {
        throw ValidationError(
            "\(option) must be between \(range.lowerBound) and \(range.upperBound) (\(unit)), not \(value)")
    }
}

/// Refuses `value` outside the range `bounds` gives `option` (see `WholeNumberOptions`).
func check(_ value: Int, option: String, in bounds: [String: WholeNumberBound]) throws {
    let bound = bounds[option]!
    guard bound.range.contains(value) else { throw ValidationError(bound.refusal(option: option, value: "\(value)")) }
}

/// Refuses an option given an empty value (`--model ""` would mean the current folder, `--jsonl ""` nothing).
func checkNotEmpty(_ values: [(option: String, value: String?)]) throws {
    for case let (option, value?) in values where value.isEmpty {
        throw ValidationError("\(option) is empty; give a path")
    }
}

/// `check` for floating-point values, which also refuses NaN (which no range contains).
func check(_ value: Double, in range: ClosedRange<Double>, option: String, unit: String) throws {
    guard range.contains(value) else {
        throw ValidationError(
            "\(option) must be between \(shortDecimal(range.lowerBound)) and \(shortDecimal(range.upperBound)) "
                + "(\(unit)), not \(value)")
    }
}

func check(_ value: Float, in range: ClosedRange<Float>, option: String, unit: String) throws {
    guard range.contains(value) else {
        // The Float's own shortest spelling: -0.1, not -0.10000000149011612.
        throw ValidationError(
            "\(option) must be between \(shortDecimal(Double(range.lowerBound))) and "
                + "\(shortDecimal(Double(range.upperBound))) (\(unit)), not \(value)")
    }
}

/// 1000 rather than 1000.0; 0.1 as it is.
private func shortDecimal(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
}
