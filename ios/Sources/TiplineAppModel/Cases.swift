// The cases on this phone, recovery from a codename, and a case's conversation.
import Foundation
import TiplineFFI

/// Unit names from the directory in use, in the reporter's language.
@MainActor
final class DirectoryNames {
    private let client: TiplineClientProtocol
    private let settings: SettingsModel

    init(client: TiplineClientProtocol, settings: SettingsModel) {
        self.client = client
        self.settings = settings
    }

    func unit(_ id: String) -> String {
        guard let unit = client.directory()?.units.first(where: { $0.id == id }) else { return id }
        return settings.text.label(unit.names)
    }
}

public struct CaseRow: Identifiable, Equatable {
    public let caseId: String
    public let unitName: String
    public let created: String
    public var id: String { caseId }
}

public struct MessageRow: Identifiable, Equatable {
    public let messageId: String
    public let fromUnit: Bool
    public let unitName: String
    /// Nil for a follow-up sent from another phone (sealed to the unit only).
    public let text: String?
    public let sentAt: String?
    public var id: String { messageId }
}

@MainActor
public final class CasesModel: ObservableObject {
    @Published public private(set) var cases: [CaseRow] = []
    @Published public var codenameInput = "" { didSet { codenameProblem = nil } }
    @Published public private(set) var codenameProblem: String?
    @Published public private(set) var recovering = false
    @Published public private(set) var notice: Notice?

    /// The open conversation's case, if any, and its state.
    @Published public private(set) var openCaseId: String?
    @Published public private(set) var unitName = ""
    @Published public private(set) var messages: [MessageRow] = []
    @Published public var followUp = ""
    @Published public private(set) var loading = false
    @Published public private(set) var sending = false
    @Published public private(set) var conversationNotice: Notice?
    private var fetched: [ConversationMessage] = []

    private let client: TiplineClientProtocol
    private let settings: SettingsModel
    private let names: DirectoryNames

    init(client: TiplineClientProtocol, settings: SettingsModel, names: DirectoryNames) {
        self.client = client
        self.settings = settings
        self.names = names
    }

    public func refreshCases() async {
        let text = settings.text
        do {
            cases = try await client.cases().map {
                CaseRow(caseId: $0.caseId, unitName: $0.unitId.isEmpty ? "" : names.unit($0.unitId), created: text.dateTime($0.created))
            }
            notice = nil
        } catch {
            notice = text.notice(error)
        }
    }

    /// Recovers the case of the codename typed and opens it; returns its id.
    @discardableResult
    public func recover() async -> String? {
        let text = settings.text
        recovering = true
        notice = nil
        defer { recovering = false }
        do {
            let caseId = try await client.recoverCase(codename: codenameInput)
            codenameInput = ""
            await refreshCases()
            await openCase(caseId)
            return caseId
        } catch ApiError.InvalidInput(let fields, _) {
            codenameProblem = text.problems(fields).values.joined(separator: "\n")
        } catch ApiError.NotFound {
            notice = .app(.caseNotFound)
        } catch {
            notice = text.notice(error)
        }
        return nil
    }

    public func openCase(_ caseId: String) async {
        openCaseId = caseId
        unitName = cases.first(where: { $0.caseId == caseId })?.unitName ?? ""
        fetched = []
        messages = []
        followUp = ""
        await reload()
    }

    public func reload() async {
        guard let caseId = openCaseId else { return }
        loading = true
        defer { loading = false }
        do {
            let conversation = try await client.conversation(caseId: caseId)
            guard openCaseId == caseId else { return }
            fetched = conversation
            render()
            conversationNotice = nil
        } catch {
            conversationNotice = settings.text.notice(error)
        }
    }

    /// Sends the follow-up; on failure the text stays typed, and sending it again is the same message.
    @discardableResult
    public func sendFollowUp() async -> Bool {
        guard let caseId = openCaseId else { return false }
        sending = true
        conversationNotice = nil
        defer { sending = false }
        do {
            let sent = try await client.sendFollowUp(caseId: caseId, text: followUp)
            fetched.append(sent)
            render()
            followUp = ""
            return true
        } catch {
            conversationNotice = settings.text.notice(error)
            return false
        }
    }

    public func closeCase() {
        openCaseId = nil
        fetched = []
        messages = []
        followUp = ""
        conversationNotice = nil
    }

    public func render() {
        let text = settings.text
        messages = fetched.map {
            MessageRow(messageId: $0.messageId, fromUnit: $0.fromUnit, unitName: names.unit($0.unitId), text: $0.text, sentAt: $0.sentAt.map(text.dateTime))
        }
        if let last = fetched.last { unitName = names.unit(last.unitId) }
    }

    func clear() {
        cases = []
        codenameInput = ""
        notice = nil
        closeCase()
    }
}
