Feature: Managers approve or reject submitted tickets
  Only managers decide, never on their own tickets, and a rejection says why.

  Background:
    Given the users alice (requester), bob (manager), dave (manager) and carol (admin)

  Scenario: Approve, provision, complete
    Given alice has submitted a ticket "New laptop"
    When bob approves the ticket with the comment "Fine by me"
    Then the request succeeds
    And the ticket is approved by bob
    When the provisioning worker has run
    Then the ticket is completed with a fulfilment reference
    And the ticket's history reads created, submitted, approved, completed
    And the process has ended in "Completed"

  Scenario: Reject with a comment
    Given alice has submitted a ticket "Gold-plated stapler"
    When bob rejects the ticket with the comment "Not in the budget"
    Then the request succeeds
    And the ticket is rejected by bob
    And the last history entry has the comment "Not in the budget"
    And the process has ended in "Rejected"

  Scenario: A rejection without a comment is refused
    Given alice has submitted a ticket "Chair"
    When bob rejects the ticket without a comment
    Then the request is refused with 422 naming comment
    And the ticket is pending_approval

  Scenario: Nobody approves their own ticket
    Given dave has submitted a ticket "Conference trip"
    When dave approves the ticket
    Then the request is refused with 403
    And the ticket is pending_approval
    And the ticket is waiting in the "Manager Approval" task for the managers group

  Scenario Outline: Only managers approve
    Given alice has submitted a ticket "Headset"
    When <user> approves the ticket
    Then the request is refused with 403
    And the ticket is pending_approval

    Examples:
      | user  |
      | alice |
      | carol |

  Scenario: A draft cannot be approved
    Given alice has created a ticket "Desk lamp"
    When bob approves the ticket
    Then the request is refused with 409
    And the ticket is draft

  Scenario: Two managers approve at the same moment
    Given alice has submitted a ticket "Phone"
    When bob and dave approve the ticket at the same time
    Then exactly one approval succeeds and the other is refused with 409
    And the ticket's history has exactly one approval
