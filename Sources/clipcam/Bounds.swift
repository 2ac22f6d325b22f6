import ArgumentParser

/// Refuses `value` outside `range`, naming the option, the range and its unit:
/// "--smooth must be between 1 and 1000 (scored frames), not 9223372036854775807".
func check<Value: Comparable>(_ value: Value, in range: ClosedRange<Value>, option: String, unit: String) throws {
    guard range.contains(value) else {
        throw ValidationError(
            "\(option) must be between \(range.lowerBound) and \(range.upperBound) (\(unit)), not \(value)")
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
    try check(Double(value), in: Double(range.lowerBound)...Double(range.upperBound), option: option, unit: unit)
}

/// 1000 rather than 1000.0; 0.1 as it is.
private func shortDecimal(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
}
