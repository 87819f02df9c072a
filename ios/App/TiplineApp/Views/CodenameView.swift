// The codename, shown once right after filing: the words numbered, the core's advice, each
// attachment's note, copy (local to this phone, expiring), and "I have kept these words".
import SwiftUI
import TiplineAppModel
import UniformTypeIdentifiers

struct CodenameView: View {
    @ObservedObject var codename: CodenameModel
    @Environment(\.strings) private var t

    var body: some View {
        if let shown = codename.state {
            ScrollView {
                VStack(alignment: .leading, spacing: 12) {
                    Text(t("codename_title")).font(.title2).bold()
                    Text(shown.advice)
                    VStack(alignment: .leading, spacing: 4) {
                        ForEach(Array(shown.words.enumerated()), id: \.offset) { index, word in
                            Text("\(index + 1). \(word)").font(.system(.title3, design: .monospaced))
                        }
                    }
                    // The words are Latin script: left to right in an Arabic layout too.
                    .environment(\.layoutDirection, .leftToRight)
                    .padding()
                    .frame(maxWidth: .infinity, alignment: .leading)
                    .background(Color(.secondarySystemBackground))
                    ForEach(shown.attachments) { note in
                        Text(note.name + ": " + note.text).font(.footnote)
                    }
                    Button(t("codename_copy")) {
                        UIPasteboard.general.setItems(
                            [[UTType.plainText.identifier: shown.codename]],
                            options: [.localOnly: true, .expirationDate: Date().addingTimeInterval(120)]
                        )
                    }
                    .buttonStyle(.bordered)
                    Button(t("codename_kept")) { codename.kept() }
                        .buttonStyle(.borderedProminent)
                }
                .padding()
            }
        }
    }
}
