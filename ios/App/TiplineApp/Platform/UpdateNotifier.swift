// Posts the update notification the model decided on: a local notification through
// UNUserNotificationCenter (no push service, no device token), with no sound, no badge and no
// count, and in a category whose hidden preview says nothing, so that a locked phone shows
// nothing of a report. Tapping it opens the app as its icon does: the blank app-switcher
// snapshot and the quick exit stay in front of everything.
import Foundation
import TiplineAppModel
import UserNotifications

final class UpdateNotifier: NSObject, UNUserNotificationCenterDelegate {
    static let shared = UpdateNotifier()
    private static let identifier = "org.tipline.app.update"
    private static let category = "org.tipline.app.update"

    /// Becomes the centre's delegate and registers the category (at launch).
    func install() {
        let center = UNUserNotificationCenter.current()
        center.delegate = self
        // Where previews are hidden (the lock screen, by default), the placeholder is empty.
        let category = UNNotificationCategory(identifier: Self.category, actions: [], intentIdentifiers: [],
                                              hiddenPreviewsBodyPlaceholder: "", options: [])
        center.setNotificationCategories([category])
    }

    /// Asks for permission to show alerts (no sound, no badge); iOS asks the reporter once.
    func requestAuthorization() {
        UNUserNotificationCenter.current().requestAuthorization(options: [.alert]) { _, _ in }
    }

    /// Posts `notification`, its words in the reporter's language (`code`), replacing any earlier one.
    func post(_ notification: UpdateNotification, languageCode code: String) {
        let content = UNMutableNotificationContent()
        switch notification.words {
        case .text(let text):
            content.body = text
        case .app(let message):
            content.body = Strings(code: code)(message.rawValue)
        }
        content.categoryIdentifier = Self.category
        content.sound = nil
        content.badge = nil
        if #available(iOS 15.0, *) { content.interruptionLevel = .passive }
        let request = UNNotificationRequest(identifier: Self.identifier, content: content, trigger: nil)
        UNUserNotificationCenter.current().add(request)
    }

    /// Removes it (the app was opened, or left by quick exit).
    func remove() {
        let center = UNUserNotificationCenter.current()
        center.removeDeliveredNotifications(withIdentifiers: [Self.identifier])
        center.removePendingNotificationRequests(withIdentifiers: [Self.identifier])
    }

    /// With the app in front, nothing is shown: the case list already has the news.
    func userNotificationCenter(_ center: UNUserNotificationCenter, willPresent notification: UNNotification,
                                withCompletionHandler completionHandler: @escaping (UNNotificationPresentationOptions) -> Void) {
        completionHandler([])
    }

    /// A tap opens the app as it is, behind its quick exit; it never opens a case directly.
    func userNotificationCenter(_ center: UNUserNotificationCenter, didReceive response: UNNotificationResponse,
                                withCompletionHandler completionHandler: @escaping () -> Void) {
        completionHandler()
    }
}
