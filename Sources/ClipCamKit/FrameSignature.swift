// A cheap fingerprint of a frame for deciding whether it needs encoding again. Not from CLIP: the frame is cut
// into a 32×24 grid of boxes (box edges at ⌊i·W/32⌋, ⌊j·H/24⌋) and each box becomes the integer mean of its grey
// values, grey = (77·R + 150·G + 29·B) >> 8 (BT.601 luma in 8-bit fixed point). Two signatures differ by the mean
// absolute difference of their boxes, in grey levels (0–255).
import Capture

/// A 32×24 grey thumbnail of a frame, made with integer box sums.
public struct FrameSignature: Sendable, Equatable {
    public static let columns = 32
    public static let rows = 24
    /// The default reuse threshold in grey levels: above sensor and compression noise of a still scene (measured
    /// 0.1–2.0 for JPEG quality 75, H.264 CRF 18, Gaussian noise σ ≤ 16), below a real change (an 8-pixel shift
    /// of a checkerboard: 5.3, brightness +10: 9.8).
    public static let defaultThreshold = 2.5

    /// Size of the frame it was made from; frames of different sizes never match.
    public let width: Int
    public let height: Int
    /// `rows × columns` box means, row after row.
    public let cells: [UInt8]

    public init(_ frame: Frame) {
        precondition(frame.width > 0 && frame.height > 0, "a frame signature needs a non-empty frame")
        width = frame.width
        height = frame.height
        let columns = FrameSignature.columns
        let rows = FrameSignature.rows
        // Boxes narrower than a pixel (frames under 32×24) repeat the pixel they fall on.
        let xEdges = (0...columns).map { $0 * frame.width / columns }
        let yEdges = (0...rows).map { $0 * frame.height / rows }
        var sums = [Int](repeating: 0, count: columns)
        var cells = [UInt8](repeating: 0, count: columns * rows)
        let stride = frame.width * 3
        frame.bgr.withUnsafeBufferPointer { pixels in
            for row in 0..<rows {
                for i in 0..<columns { sums[i] = 0 }
                let y0 = yEdges[row]
                let y1 = max(yEdges[row + 1], y0 + 1)
                for y in y0..<y1 {
                    let line = y * stride
                    for column in 0..<columns {
                        let x0 = xEdges[column]
                        let x1 = max(xEdges[column + 1], x0 + 1)
                        var sum = 0
                        var p = line + x0 * 3
                        for _ in x0..<x1 {
                            let grey = 29 &* Int(pixels[p]) &+ 150 &* Int(pixels[p + 1]) &+ 77 &* Int(pixels[p + 2])
                            sum &+= grey &>> 8
                            p += 3
                        }
                        sums[column] &+= sum
                    }
                }
                for column in 0..<columns {
                    let x0 = xEdges[column]
                    let area = max(xEdges[column + 1] - x0, 1) * (y1 - y0)
                    cells[row * columns + column] = UInt8((sums[column] + area / 2) / area)
                }
            }
        }
        self.cells = cells
    }

    /// Mean absolute difference of the boxes, in grey levels (0 identical … 255); infinity for frames of
    /// different sizes.
    public func difference(_ other: FrameSignature) -> Double {
        guard width == other.width && height == other.height else { return .infinity }
        var total = 0
        for i in cells.indices { total += abs(Int(cells[i]) - Int(other.cells[i])) }
        return Double(total) / Double(cells.count)
    }
}
