Feature: Requesters write tickets of a type and send them into its process
  A ticket has a type; its fields are the type's form. Submitting starts the type's process
  with the ticket id as business key and the ticket's fields as process variables.

  Background:
    Given the demo users

  Scenario: Create and submit an IT request
    When alice creates an IT request "New laptop" for 1200.50 with priority high
    Then the ticket is draft
    And alice may edit, submit and delete it
    When alice submits the ticket
    Then the request succeeds
    And the ticket is in_progress at "Manager Approval"
    And the step "Manager Approval" is offered to the managers group
    And the ticket's history reads created, submitted

  Scenario: Invalid fields are named and nothing is created
    When alice creates a purchase request with an empty title and an amount of -5
    Then the request is refused with 422 naming title
    When alice creates a purchase request "Paper" with an amount of -5 and no supplier
    Then the request is refused with 422 naming amount and supplier
    And alice has no tickets

  Scenario: Submitting twice is refused
    Given alice has submitted an IT request "Monitor"
    When alice submits the ticket
    Then the request is refused with 409
    And the ticket is in_progress

  Scenario: Nobody else submits a requester's draft
    Given alice has created an IT request "Keyboard"
    When dave submits the ticket
    Then the request is refused with 403
    And the ticket is draft

  Scenario: A draft is deleted
    Given alice has created an IT request "Typo"
    When alice deletes the ticket
    Then the ticket is gone

  Scenario: Withdraw a ticket in progress, then resubmit it as a new draft
    Given alice has submitted a purchase request of 5000 from "ACME"
    When alice withdraws the ticket with the comment "Bought it myself"
    Then the ticket is withdrawn
    And nobody has a task for the ticket
    When alice resubmits the ticket
    Then a new draft has the same type, title and fields
