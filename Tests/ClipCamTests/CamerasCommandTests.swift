import Foundation
import Testing

/// `clipcam cameras` on simulated device nodes (Tests/FakeV4L2/fake_kernel_v4l2.c below the real libv4l2).
@Suite struct CamerasCommandTests {
    /// Two cameras, each with its video node and its metadata node, listed out of natural order.
    private let nodes = [
        "NODES": "/dev/video10=capture:Desk Camera,/dev/video11=meta:Desk Camera,/dev/video2=capture,/dev/video3=meta",
        "FORMATS": "MJPG:1280x720/640x480,YUYV:640x480",
        "FPS": "30,15",
    ]

    @Test func listsCaptureDevicesWithTheirFormatsAndSkipsMetadataNodes() throws {
        let result = try clipcamLimited(["cameras"], environment: try kernelCameraEnvironment(nodes))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.stdout == """
                /dev/video2: Fake UVC Camera (uvcvideo, usb-0000:00:14.0-2)
                    MJPG (Motion-JPEG, compressed): 1280x720 @ 30, 15 fps; 640x480 @ 30, 15 fps
                    YUYV (YUYV 4:2:2): 640x480 @ 30, 15 fps
                /dev/video10: Desk Camera (uvcvideo, usb-0000:00:14.0-1)
                    MJPG (Motion-JPEG, compressed): 1280x720 @ 30, 15 fps; 640x480 @ 30, 15 fps
                    YUYV (YUYV 4:2:2): 640x480 @ 30, 15 fps
                skipped 2 nodes that capture no video:
                    /dev/video3: metadata node of Fake UVC Camera
                    /dev/video11: metadata node of Desk Camera

                """, "\(result.stdout)")
    }

    @Test func jsonListsTheDriversOwnFormatsOnly() throws {
        let result = try clipcamLimited(["cameras", "--json"], environment: try kernelCameraEnvironment(nodes))
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)")
        let cameras = try #require(object["cameras"] as? [[String: Any]])
        #expect(cameras.compactMap { $0["device"] as? String } == ["/dev/video2", "/dev/video10"])
        let first = try #require(cameras.first)
        #expect(first["card"] as? String == "Fake UVC Camera")
        #expect(first["driver"] as? String == "uvcvideo")
        #expect(first["bus"] as? String == "usb-0000:00:14.0-2")
        let formats = try #require(first["formats"] as? [[String: Any]])
        // libv4l2 would add the formats it emulates (BGR3, RGB3, YU12, YV12); the camera sends only these.
        #expect(formats.compactMap { $0["fourcc"] as? String } == ["MJPG", "YUYV"])
        #expect(formats.compactMap { $0["compressed"] as? Bool } == [true, false])
        let sizes = try #require(formats.first?["sizes"] as? [[String: Any]])
        #expect(sizes.compactMap { $0["width"] as? Int } == [1280, 640])
        #expect(sizes.compactMap { $0["height"] as? Int } == [720, 480])
        #expect(sizes.first?["fps"] as? [Double] == [30, 15])
        let skipped = try #require(object["skipped"] as? [[String: Any]])
        #expect(skipped.compactMap { $0["device"] as? String } == ["/dev/video3", "/dev/video11"])
        #expect(skipped.first?["reason"] as? String == "metadata node of Fake UVC Camera")
    }

    @Test func noCaptureDeviceIsAnErrorSayingWhatToDo() throws {
        let result = try clipcamLimited(
            ["cameras"], environment: try kernelCameraEnvironment(["NODES": "/dev/video0=meta"]))
        #expect(result.status == 1)
        #expect(result.stdout.contains("/dev/video0: metadata node of Fake UVC Camera"), "\(result.stdout)")
        #expect(
            result.stderr.contains(
                "error: no V4L2 capture device found (none of /dev/video0 (metadata node of Fake UVC Camera) "
                    + "captures video)"),
            "\(result.stderr)")
        #expect(result.stderr.contains("--source synthetic"), "\(result.stderr)")
    }
}
