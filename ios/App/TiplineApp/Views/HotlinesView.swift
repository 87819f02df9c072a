// Hotlines for the reporter's region: "open now" from the core, tap to call.
import SwiftUI
import TiplineAppModel

struct HotlinesView: View {
    @ObservedObject var hotlines: HotlinesModel
    @Environment(\.strings) private var t
    @Environment(\.openURL) private var openURL
    // Opening hours change with the clock: ask the core again every minute while shown.
    private let minute = Timer.publish(every: 60, on: .main, in: .common).autoconnect()

    var body: some View {
        List {
            NoticeView(notice: hotlines.notice)
            if hotlines.hotlines.isEmpty && hotlines.notice == nil { Text(t("hotlines_empty")) }
            ForEach(hotlines.hotlines) { line in
                HStack {
                    VStack(alignment: .leading, spacing: 4) {
                        Text(line.name).font(.headline)
                        // Phone numbers read left to right in every language.
                        Text(line.display).environment(\.layoutDirection, .leftToRight)
                        Text(line.status).foregroundColor(line.openNow ? .green : .secondary)
                    }
                    Spacer()
                    Button {
                        if let url = URL(string: line.dialUri) { openURL(url) }
                    } label: {
                        Label(t("hotlines_call"), systemImage: "phone.fill")
                    }
                    .buttonStyle(.borderedProminent)
                }
            }
        }
        .navigationTitle(t("tab_hotlines"))
        .onAppear { hotlines.refresh() }
        .onReceive(minute) { _ in hotlines.refresh() }
    }
}
