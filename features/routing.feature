Feature: The process decides the steps, who acts on each and where the ticket goes
  PFlow decides who may act: a candidate of the step, never the requester or last editor, and
  nobody decides twice on one ticket.

  Background:
    Given the demo users

  Scenario: An IT request is approved by a manager and provisioned
    Given alice has submitted an IT request "New laptop"
    When bob approves the ticket with the comment "Fine by me"
    Then the request succeeds
    When the automated steps have run
    Then the ticket is completed
    And the step "Manager Approval" was completed by bob with the comment "Fine by me"
    And the ticket's history reads created, submitted, step_completed, step_results, completed

  Scenario: A rejection needs a comment and ends the ticket rejected
    Given alice has submitted an IT request "Gold-plated stapler"
    When bob rejects the ticket without a comment
    Then the request is refused with 422 naming comment
    When bob rejects the ticket with the comment "Not in the budget"
    Then the ticket is rejected

  Scenario Outline: A purchase is routed by its amount
    Given alice has submitted a purchase request of <amount> from "ACME"
    When bob approves the ticket
    Then the ticket is in_progress at "<next>"
    Examples:
      | amount  | next             |
      | 5000    | Finance Approval |
      | 1000.01 | Finance Approval |
      | 1000    | Place Order      |
      | 500     | Place Order      |

  Scenario: Two levels: the manager, then finance, then the order
    Given alice has submitted a purchase request of 5000 from "ACME"
    When bob approves the ticket
    And fiona approves the ticket
    And the automated steps have run
    Then the ticket is completed
    And the ticket's history has steps "Manager Approval" by bob and "Finance Approval" by fiona

  Scenario: Finance rejects at the second level
    Given alice has submitted a purchase request of 5000 from "ACME"
    When bob approves the ticket
    And fiona rejects the ticket with the comment "Over budget"
    Then the ticket is rejected
    And the step "Finance Approval" was completed by fiona with the comment "Over budget"

  Scenario: Nobody decides two levels of one ticket
    Given alice has submitted a purchase request of 5000 from "ACME"
    When frank approves the ticket
    Then the ticket is in_progress at "Finance Approval"
    When frank approves the ticket
    Then the request is refused with 403 because second_decision
    And frank has no task for the ticket
    And fiona has a task "Finance Approval" for the ticket

  Scenario: Nobody completes a step of their own ticket
    Given dave has submitted an IT request "Conference trip"
    When dave approves the ticket
    Then the request is refused with 403 because own_ticket
    And dave has no task for the ticket
    And bob has a task "Manager Approval" for the ticket

  Scenario: Only candidates act on a step
    Given alice has submitted an IT request "Headset"
    When carol approves the ticket
    Then the request is refused with 403 because not_a_candidate
    When fiona approves the ticket
    Then the request is refused with 404
    And the ticket is in_progress at "Manager Approval"

  Scenario: An access request waits for both groups
    Given alice has submitted an access request for "crm" with write access
    Then the ticket is in_progress at "Manager Approval" and "Security Review"
    When bob approves the ticket
    Then the ticket is in_progress at "Security Review"
    When sam approves the ticket
    And the automated steps have run
    Then the ticket is completed

  Scenario: An access request rejected by security is rejected once both have decided
    Given alice has submitted an access request for "payroll" with admin access
    When sam rejects the ticket with the comment "Too broad"
    And bob approves the ticket
    Then the ticket is rejected

  Scenario: Any one member of the group decides
    Given alice has submitted an IT request "Phone"
    When bob and dave approve the ticket at the same time
    Then exactly one approval succeeds and the other is refused with 409
    And the ticket's history has exactly one completion of "Manager Approval"

  Scenario: A step offered to one user, then one assigned by an expression
    Given alice has submitted a contract review "NDA with ACME"
    Then the step "Legal Review" is offered to the user pat
    When bob completes "Legal Review" with approved
    Then the request is refused with 403 because not_a_candidate
    When pat completes "Legal Review" with approved
    Then the ticket is in_progress at "Confirm Receipt"
    And the step "Confirm Receipt" is assigned to alice
    When alice completes "Confirm Receipt"
    Then the ticket is completed

  Scenario: A process whose task has another id runs the same way
    Given alice has submitted a renamed request "Cables"
    When bob approves the ticket
    And the automated steps have run
    Then the ticket is completed
