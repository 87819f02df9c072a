// The discreet notification that tells a reporter the unit answered: the Swift twin of
// android/viewmodel/.../Updates.kt. The core's background check (`checkCases`) asks each open case
// for news, spread over the time the background task allows, and says how many cases have some;
// this decides what the app posts: nothing without news or with the notification turned off,
// else one notification in the reporter's own words or, by default, the app's neutral "You have
// an update". It never carries a category, a unit, a count or the text of a message.
import Foundation
import TiplineFFI

/// A local notification to post: `.app(.update)` (the app's string in the reporter's language)
/// or `.text` with the reporter's own wording.
public struct UpdateNotification: Equatable {
    public let words: Notice
}

@MainActor
public final class UpdatesModel: ObservableObject {
    @Published public private(set) var checking = false
    @Published public private(set) var last: CaseCheck?
    @Published public private(set) var notification: UpdateNotification?
    @Published public private(set) var notice: Notice?
    private let client: TiplineClientProtocol
    private let settings: SettingsModel
    private let cases: CasesModel
    private var running: Task<UpdateNotification?, Never>?
    private var startChecked = false

    /// The spread of the check at the app's start: the cases are asked over the first minute.
    public static let startSpread: UInt32 = 60

    init(client: TiplineClientProtocol, settings: SettingsModel, cases: CasesModel) {
        self.client = client
        self.settings = settings
        self.cases = cases
    }

    /// The notification `check` calls for under the reporter's settings.
    public func notification(for check: CaseCheck) -> UpdateNotification? {
        guard check.withNews > 0, settings.updateNotifications else { return nil }
        if let wording = settings.notificationWording { return UpdateNotification(words: .text(wording)) }
        return UpdateNotification(words: .app(.update))
    }

    /// Checks the cases for news within `spreadSeconds` and returns the notification to post
    /// (background tasks call this after flushing). With the app in front nothing is posted: the
    /// case list is refreshed instead. One check at a time: a second waits for the first.
    @discardableResult
    public func check(spreadSeconds: UInt32, foreground: Bool = false) async -> UpdateNotification? {
        let previous = running
        let task = Task { () -> UpdateNotification? in
            _ = await previous?.value
            return await self.run(spreadSeconds: spreadSeconds, foreground: foreground)
        }
        running = task
        return await task.value
    }

    private func run(spreadSeconds: UInt32, foreground: Bool) async -> UpdateNotification? {
        checking = true
        defer { checking = false }
        do {
            let found = try await client.checkCases(spreadSeconds: spreadSeconds)
            if found.withNews > 0 { await cases.refreshCases() }
            let posted = foreground ? nil : notification(for: found)
            last = found
            notification = posted
            notice = nil
            return posted
        } catch {
            notice = settings.text.notice(error)
            return nil
        }
    }

    /// The check at the app's start, once per process; false when it already ran.
    @discardableResult
    public func checkAtStart(spreadSeconds: UInt32 = UpdatesModel.startSpread) async -> Bool {
        guard !startChecked else { return false }
        startChecked = true
        await check(spreadSeconds: spreadSeconds, foreground: true)
        return true
    }

    /// The reporter opened the app or left it by quick exit: the posted notification is gone.
    public func dismissed() {
        notification = nil
    }
}
