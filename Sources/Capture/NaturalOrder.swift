/// Orders names as people do: digit runs compare by value, so "frame2.png" comes before "frame10.png".
public func naturalOrder(_ left: String, _ right: String) -> Bool {
    var a = Array(left.utf8)[...]
    var b = Array(right.utf8)[...]
    func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }
    while let x = a.first, let y = b.first {
        if isDigit(x) && isDigit(y) {
            let runA = a.prefix(while: isDigit)
            let runB = b.prefix(while: isDigit)
            let trimmedA = runA.drop { $0 == 48 }
            let trimmedB = runB.drop { $0 == 48 }
            if trimmedA.count != trimmedB.count { return trimmedA.count < trimmedB.count }
            if !trimmedA.elementsEqual(trimmedB) { return trimmedA.lexicographicallyPrecedes(trimmedB) }
            a = a.dropFirst(runA.count)
            b = b.dropFirst(runB.count)
        } else {
            if x != y { return x < y }
            a = a.dropFirst()
            b = b.dropFirst()
        }
    }
    if a.isEmpty != b.isEmpty { return a.isEmpty }
    return left < right
}
