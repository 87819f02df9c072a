// The codename, shown once right after filing, with the core's advice and each attachment's note.
import Foundation
import TiplineFFI

public struct AttachmentNote: Equatable, Identifiable {
    public let name: String
    public let stripped: Bool
    public let text: String
    public var id: String { name }
}

public struct CodenameState: Equatable {
    public let caseId: String
    public let codename: String
    public let words: [String]
    /// The core's advice on keeping the words.
    public let advice: String
    public let attachments: [AttachmentNote]
}

@MainActor
public final class CodenameModel: ObservableObject {
    /// The codename to show, or nil once kept.
    @Published public private(set) var state: CodenameState?
    private let settings: SettingsModel
    private var shown: (Filed, [String])?

    init(settings: SettingsModel) {
        self.settings = settings
    }

    func show(_ filed: Filed, attachmentNames: [String]) {
        shown = (filed, attachmentNames)
        let text = settings.text
        state = CodenameState(
            caseId: filed.caseId,
            codename: filed.codename,
            words: filed.codename.split(separator: " ").map(String.init),
            advice: text.text("codename-keep"),
            attachments: zip(attachmentNames, filed.stripped).map { name, stripped in
                AttachmentNote(name: name, stripped: stripped, text: text.text(stripped ? "metadata-removed" : "metadata-kept"))
            }
        )
    }

    /// The reporter has kept the words: the app lets go of them.
    public func kept() {
        shown = nil
        state = nil
    }

    public func relabel() {
        if let shown { show(shown.0, attachmentNames: shown.1) }
    }
}
