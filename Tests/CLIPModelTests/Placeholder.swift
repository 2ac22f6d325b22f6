import Testing

@Test func CLIPModelTestsBuilds() {}
