Feature: Requesters create tickets and send them for approval
  A requester writes a ticket as a draft, may edit it, and submits it. Submitting
  starts the ticket_approval process with the ticket id as business key.

  Background:
    Given the users alice (requester), bob (manager), dave (manager) and carol (admin)

  Scenario: Create and submit a ticket
    When alice creates a ticket "New laptop" for 1200.50 with priority high
    Then the ticket is draft
    And alice may edit and submit it
    When alice submits the ticket
    Then the request succeeds
    And the ticket is pending_approval
    And the ticket is waiting in the "Manager Approval" task for the managers group
    And the ticket's history reads created, submitted

  Scenario: Invalid fields are named and nothing is created
    When alice creates a ticket with an empty title and an amount of -5
    Then the request is refused with 422 naming title and amount
    And alice has no tickets

  Scenario: Submitting twice is refused
    Given alice has submitted a ticket "Monitor"
    When alice submits the ticket
    Then the request is refused with 409
    And the ticket is pending_approval

  Scenario: Nobody else submits a requester's draft
    Given alice has created a ticket "Keyboard"
    When dave submits the ticket
    Then the request is refused with 403
    And the ticket is draft
